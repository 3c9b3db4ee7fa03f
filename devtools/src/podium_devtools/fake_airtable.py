"""A fake Airtable Web API over real HTTP on 127.0.0.1, for testing the migration tools.

    from pyairtable import Api
    from podium_devtools.fake_airtable import FakeAirtable
    from podium_devtools.airtable_base import generate_base

    with FakeAirtable(generate_base(5_000, seed=1).tables, token="dev") as fake:
        api = Api("dev", endpoint_url=fake.url)          # pyairtable 3.x: endpoint_url
        users = api.table(fake.base_id, "users").all()   # or the table id: fake.table_ids["users"]

`Api(api_key, *, timeout=None, retry_strategy=True, endpoint_url="https://api.airtable.com")`:
pyairtable appends `/v0/...` to `endpoint_url` itself, so pass the bare `fake.url`
(`http://127.0.0.1:<port>`); that same value is what AIRTABLE_API_URL holds (`fake.env()`).
pyairtable's default retry strategy retries 429 (5 times, 0.1 s exponential backoff); pass
`retry_strategy=None` to see every 429 yourself.

Served (the parts of the API pyairtable 3.5 uses for records):
- GET `/v0/{base}/{table}` and POST `/v0/{base}/{table}/listRecords` (pyairtable's fallback for
  long URLs): pageSize ≤ 100, offset, maxRecords, fields[], filterByFormula (the subset in
  `airtable_formula`; anything else is 422 INVALID_FILTER_BY_FORMULA), sort, view (only the
  default "Grid view"), returnFieldsByFieldId, recordMetadata[]=commentCount.
- GET/PATCH/PUT/DELETE `/v0/{base}/{table}/{recordId}`; POST (single or ≤10 records, typecast),
  PATCH/PUT (≤10 records, performUpsert) and DELETE (`records[]`, ≤10) on `/v0/{base}/{table}`.
- GET `/v0/meta/whoami`, `/v0/meta/bases`, `/v0/meta/bases/{base}/tables` (so `Table.schema()`
  and table-name → id resolution work).
Tables are addressed by name (users, events, ...) or id (`fake.table_ids`). Record semantics
(absent empty values, two-sided links, lookups, listing snapshots) live in `airtable_store`.

Errors use Airtable's shapes: 401 AUTHENTICATION_REQUIRED, 404 NOT_FOUND / TABLE_NOT_FOUND /
MODEL_ID_NOT_FOUND, 422 with a type (INVALID_FILTER_BY_FORMULA, LIST_RECORDS_ITERATOR_NOT_AVAILABLE,
UNKNOWN_FIELD_NAME, ROW_DOES_NOT_EXIST, ...), and 429 as `{"errors": [{"error":
"RATE_LIMIT_REACHED", ...}]}` without a Retry-After header, like Airtable. Injected 502/504 answer
an HTML page, as a load balancer in front of an API does.

Throttling, per base: `rate_limit` requests/second, counted over a sliding `rate_limit_window`
(a small window in tests, 1 s like Airtable by default), answers 429 above it, and optionally
refuses everything for `rate_limit_penalty` seconds after (Airtable: 30 s). `pace` instead
delays requests so at most that many per second are served (for benchmarks).

CLI: `python -m podium_devtools.fake_airtable --records 5000 --seed 1 --port 8787 --token dev`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from podium_devtools.airtable_layout import (
    V1_LAYOUT,
    AirtableRecord,
    Link,
    Lookup,
    Scalar,
    TableLayout,
    stable_id,
)
from podium_devtools.airtable_store import (
    MAX_RECORDS_PER_WRITE,
    AirtableError,
    AirtableStore,
    FakeClock,
    ListRequest,
)
from podium_devtools.background_server import BackgroundServer

DEFAULT_BASE_ID = "appPodiumV1Legacy"
DEFAULT_VIEW = "Grid view"
RATE_LIMIT_BODY = {
    "errors": [
        {"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}
    ]
}
_SORT_PARAM = re.compile(r"^sort\[(\d+)\]\[(field|direction)\]$")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake saw it; `at` is time.monotonic() when it was answered."""

    method: str
    path: str
    table: str | None
    params: dict[str, list[str]]
    body: Any
    status: int
    at: float

    @property
    def carries_offset(self) -> bool:
        return "offset" in self.params or (isinstance(self.body, dict) and "offset" in self.body)


@dataclass
class _Fault:
    status: int
    remaining: int
    table: str | None
    method: str | None
    offset_only: bool

    def matches(self, method: str, table: str | None, carries_offset: bool) -> bool:
        return (
            (self.table is None or self.table == table)
            and (self.method is None or self.method == method)
            and (carries_offset or not self.offset_only)
        )


class _Refused(Exception):
    """A throttled or injected failure, answered as is."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _fault_response(status: int) -> Response:
    if status == 429:
        return JSONResponse(RATE_LIMIT_BODY, status_code=429)
    if status in (502, 504):
        title = "502 Bad Gateway" if status == 502 else "504 Gateway Time-out"
        return HTMLResponse(
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>", status
        )
    error_type = {500: "SERVER_ERROR", 503: "SERVICE_UNAVAILABLE"}.get(status, "INJECTED_FAULT")
    return JSONResponse(
        {"error": {"type": error_type, "message": "Injected by FakeAirtable"}}, status_code=status
    )


class FakeAirtable:
    """An in-memory Airtable base served over HTTP; use as a context manager (or start/stop)."""

    def __init__(
        self,
        tables: Mapping[str, Iterable[AirtableRecord]] | None = None,
        *,
        token: str = "fake-airtable-token",
        base_id: str = DEFAULT_BASE_ID,
        layout: Mapping[str, TableLayout] = V1_LAYOUT,
        rate_limit: float | None = 5.0,
        rate_limit_window: float = 1.0,
        rate_limit_penalty: float = 0.0,
        pace: float | None = None,
        offset_max_pages: int | None = None,
        offset_ttl: float | None = None,
        clock: FakeClock | None = None,
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.token = token
        self.base_id = base_id
        self.layout = layout
        self.rate_limit = rate_limit
        self.rate_limit_window = rate_limit_window
        self.rate_limit_penalty = rate_limit_penalty
        self.pace = pace
        self.clock = clock or FakeClock()
        # One lock for the store, the log and the faults: handlers run on the server's thread,
        # test helpers on the caller's.
        self._lock = threading.RLock()
        self._store = AirtableStore(layout, self.clock, seed=seed)
        self._store.offset_max_pages = offset_max_pages
        self._store.offset_ttl = offset_ttl
        self._log: list[LoggedRequest] = []
        self._status_counts: collections.Counter[int] = collections.Counter()
        self._faults: list[_Fault] = []
        self._accepted: collections.deque[float] = collections.deque()
        self._blocked_until = 0.0
        self._next_slot = 0.0
        self._server = BackgroundServer(self._build_app(), name="the fake Airtable", port=port)
        if tables is not None:
            self.load(tables)

    # -- configuration and introspection ---------------------------------------------------

    @property
    def offset_max_pages(self) -> int | None:
        """Listings expire after serving this many pages (the next offset answers 422)."""
        return self._store.offset_max_pages

    @offset_max_pages.setter
    def offset_max_pages(self, value: int | None) -> None:
        self._store.offset_max_pages = value

    @property
    def offset_ttl(self) -> float | None:
        """Listings expire after this many idle seconds (real time), as Airtable's do."""
        return self._store.offset_ttl

    @offset_ttl.setter
    def offset_ttl(self, value: float | None) -> None:
        self._store.offset_ttl = value

    @property
    def table_ids(self) -> dict[str, str]:
        return {name: table.id for name, table in self.layout.items()}

    @property
    def url(self) -> str:
        """The `endpoint_url` for pyairtable and the value of AIRTABLE_API_URL."""
        return self._server.url

    def env(self, *, use_table_ids: bool = False) -> dict[str, str]:
        """The environment variables that point the migration tools at this fake (SPEC §4)."""
        variables = {
            "AIRTABLE_API_URL": self.url,
            "AIRTABLE_TOKEN": self.token,
            "AIRTABLE_BASE_ID": self.base_id,
        }
        for name, table in self.layout.items():
            variables[f"AIRTABLE_{name.upper()}_TABLE"] = table.id if use_table_ids else name
        return variables

    @property
    def tables(self) -> dict[str, list[AirtableRecord]]:
        """A copy of every record, per table name, in the order listings return them."""
        with self._lock:
            return {
                name: [record.to_api(self.layout[name]) for record in records.values()]
                for name, records in self._store.records.items()
            }

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def status_counts(self) -> dict[int, int]:
        with self._lock:
            return dict(self._status_counts)

    @property
    def rate_limited(self) -> int:
        """How many requests were answered 429 (throttled or injected)."""
        with self._lock:
            return self._status_counts[429]

    @property
    def live_listings(self) -> int:
        with self._lock:
            return self._store.live_listings

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._status_counts.clear()

    def reset(self) -> None:
        """Forget faults, the request log and throttling history (not the data or settings)."""
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._status_counts.clear()
            self._accepted.clear()
            self._blocked_until = self._next_slot = 0.0

    # -- data helpers (no HTTP, no throttling, no faults) ----------------------------------

    def load(self, tables: Mapping[str, Iterable[AirtableRecord]], *, replace: bool = True) -> int:
        """Load records as given (e.g. `generate_base(...).tables`); return how many."""
        with self._lock:
            return self._store.load(tables, replace=replace)

    def add_record(
        self,
        table: str,
        fields: Mapping[str, Any],
        *,
        created_time: datetime | None = None,
        record_id: str | None = None,
        typecast: bool = False,
    ) -> AirtableRecord:
        """Create a record as an Airtable user would (validated, links kept on both sides)."""
        with self._lock:
            layout = self._table(table)
            values = self._store.coerce_fields(layout, dict(fields), typecast)
            (record,) = self._store.create(
                layout, [values], created=created_time, record_id=record_id
            )
            return record.to_api(layout)

    def update_record(
        self, table: str, record_id: str, fields: Mapping[str, Any], *, replace: bool = False
    ) -> AirtableRecord:
        with self._lock:
            layout = self._table(table)
            values = self._store.coerce_fields(layout, dict(fields), False)
            (record,) = self._store.update(layout, [(record_id, values)], replace=replace)
            return record.to_api(layout)

    def delete_record(self, table: str, record_id: str) -> None:
        with self._lock:
            self._store.delete(self._table(table), [record_id])

    def get_record(self, table: str, record_id: str) -> AirtableRecord | None:
        with self._lock:
            layout = self._table(table)
            record = self._store.records[layout.name].get(record_id)
            return None if record is None else record.to_api(layout)

    def last_modified(self, table: str, record_id: str) -> datetime:
        """The record's LAST_MODIFIED_TIME() (Airtable does not return it in `fields`)."""
        with self._lock:
            layout = self._table(table)
            return self._store.get(layout, record_id).modified

    def _table(self, name_or_id: str) -> TableLayout:
        table = self._store.resolve_table(name_or_id)
        if table is None:
            raise KeyError(f"no table {name_or_id!r}")
        return table

    # -- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        table: str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status` (5xx, 429, ...) instead."""
        self._add_fault(
            _Fault(
                status, count, self._table(table).name if table else None, method, offset_only=False
            )
        )

    def rate_limit_next(self, count: int = 1, *, table: str | None = None) -> None:
        """Answer the next `count` requests 429, whatever the rate."""
        self.fail_next(count, status=429, table=table)

    def expire_next_offsets(self, count: int = 1, *, table: str | None = None) -> None:
        """Answer the next `count` listing requests that carry an offset 422
        LIST_RECORDS_ITERATOR_NOT_AVAILABLE, and forget those listings: the client must restart."""
        self._add_fault(
            _Fault(422, count, self._table(table).name if table else None, None, offset_only=True)
        )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(fault.remaining for fault in self._faults)

    def _add_fault(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, table: str | None, offset: str | None) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, table, offset is not None):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    if fault.offset_only and offset is not None:
                        self._store.expire_listing(offset)
                        return JSONResponse(
                            {"error": {"type": "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"}}, 422
                        )
                    return _fault_response(fault.status)
        return None

    # -- server lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- HTTP ------------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        def route(path: str, handler: Callable[..., Any], methods: list[str]) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self._serve(request, handler)

            return Route(path, endpoint, methods=methods)

        async def not_found(request: Request, error: Exception) -> Response:
            status = error.status_code if isinstance(error, HTTPException) else 404
            body: dict[str, Any] = (
                {"error": "NOT_FOUND"}
                if status == 404
                else {"error": {"type": "INVALID_REQUEST_UNKNOWN"}}
            )
            response = JSONResponse(body, status_code=status)
            self._record(request, None, None, status)
            return response

        return Starlette(
            routes=[
                route("/v0/meta/whoami", self._whoami, ["GET"]),
                route("/v0/meta/bases", self._bases, ["GET"]),
                route("/v0/meta/bases/{base_id}/tables", self._schema, ["GET"]),
                route("/v0/{base_id}/{table}/listRecords", self._list_post, ["POST"]),
                route(
                    "/v0/{base_id}/{table}/{record_id}",
                    self._record_endpoint,
                    ["GET", "PATCH", "PUT", "DELETE"],
                ),
                route(
                    "/v0/{base_id}/{table}",
                    self._table_endpoint,
                    ["GET", "POST", "PATCH", "PUT", "DELETE"],
                ),
            ],
            exception_handlers={404: not_found, 405: not_found},
        )

    async def _serve(
        self, request: Request, handler: Callable[[Request, TableLayout | None, Any], Any]
    ) -> Response:
        table: TableLayout | None = None
        body: Any = None
        try:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                raise AirtableError(401, "AUTHENTICATION_REQUIRED", "Authentication required")
            base_id = request.path_params.get("base_id")
            if base_id is not None and base_id != self.base_id:
                raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
            if "table" in request.path_params:
                table = self._store.resolve_table(request.path_params["table"])
                if table is None:
                    name = request.path_params["table"]
                    raise AirtableError(
                        404,
                        "TABLE_NOT_FOUND",
                        f"Could not find table {name} in application {self.base_id}",
                    )
            body = await self._json_body(request)
            offset = request.query_params.get("offset") or (
                body.get("offset") if isinstance(body, dict) else None
            )
            injected = self._take_fault(request.method, table.name if table else None, offset)
            if injected is not None:
                raise _Refused(injected)
            await self._throttle()
            with self._lock:
                response: Response = JSONResponse(handler(request, table, body))
        except AirtableError as error:
            response = JSONResponse(error.body(), status_code=error.status)
        except _Refused as refused:
            response = refused.response
        self._record(request, table.name if table else None, body, response.status_code)
        return response

    @staticmethod
    async def _json_body(request: Request) -> Any:
        if request.method in ("GET", "DELETE"):
            return None
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise AirtableError(
                400, "INVALID_REQUEST_UNKNOWN", "Invalid request: the body is not valid JSON"
            ) from error
        if not isinstance(body, dict):
            raise AirtableError(
                422, "INVALID_REQUEST_UNKNOWN", "Invalid request: the body must be a JSON object"
            )
        return body

    async def _throttle(self) -> None:
        if self.pace is not None:
            # Reserve the next free slot first, then sleep: concurrent requests queue up in order.
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1 / self.pace
            if slot > now:
                await asyncio.sleep(slot - now)
        if self.rate_limit is None:
            return
        now = time.monotonic()
        if now < self._blocked_until:
            raise _Refused(_fault_response(429))
        while self._accepted and self._accepted[0] <= now - self.rate_limit_window:
            self._accepted.popleft()
        if len(self._accepted) >= max(1, round(self.rate_limit * self.rate_limit_window)):
            if self.rate_limit_penalty:
                self._blocked_until = now + self.rate_limit_penalty
            raise _Refused(_fault_response(429))
        self._accepted.append(now)

    def _record(self, request: Request, table: str | None, body: Any, status: int) -> None:
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        entry = LoggedRequest(
            request.method, request.url.path, table, params, body, status, time.monotonic()
        )
        with self._lock:
            self._log.append(entry)
            self._status_counts[status] += 1

    # -- handlers (called with the lock held) ----------------------------------------------

    def _whoami(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        return {
            "id": "usrFakeAirtable01",
            "scopes": ["data.records:read", "data.records:write", "schema.bases:read"],
        }

    def _bases(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        return {
            "bases": [{"id": self.base_id, "name": "Podium v1 (fake)", "permissionLevel": "create"}]
        }

    def _schema(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        return {"tables": [_table_schema(layout, self.layout) for layout in self.layout.values()]}

    def _list_post(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        assert table is not None
        return self._list(table, _list_request_from_body(body), body)

    def _table_endpoint(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        assert table is not None
        if request.method == "GET":
            query = request.query_params
            options = {
                "view": query.get("view"),
                "cellFormat": query.get("cellFormat", "json"),
                "returnFieldsByFieldId": query.get("returnFieldsByFieldId"),
                "recordMetadata": query.getlist("recordMetadata[]"),
            }
            return self._list(table, _list_request_from_query(query), options)
        by_id = _flag(request.query_params.get("returnFieldsByFieldId")) or _flag(
            body.get("returnFieldsByFieldId") if isinstance(body, dict) else None
        )
        if request.method == "POST":
            return self._create(table, body, by_id)
        if request.method in ("PATCH", "PUT"):
            return self._update_many(table, body, replace=request.method == "PUT", by_id=by_id)
        record_ids = request.query_params.getlist("records[]") or request.query_params.getlist(
            "records"
        )
        _check_batch_size(record_ids)
        self._require_existing(table, record_ids)
        self._store.delete(table, record_ids)
        return {"records": [{"id": record_id, "deleted": True} for record_id in record_ids]}

    def _record_endpoint(self, request: Request, table: TableLayout | None, body: Any) -> Any:
        assert table is not None
        record_id = request.path_params["record_id"]
        record = self._store.get(table, record_id)
        by_id = _flag(request.query_params.get("returnFieldsByFieldId")) or _flag(
            body.get("returnFieldsByFieldId") if isinstance(body, dict) else None
        )
        if request.method == "GET":
            return record.to_api(table, by_id=by_id)
        if request.method == "DELETE":
            self._store.delete(table, [record_id])
            return {"id": record_id, "deleted": True}
        values = self._store.coerce_fields(table, body.get("fields"), _flag(body.get("typecast")))
        (updated,) = self._store.update(
            table, [(record_id, values)], replace=request.method == "PUT"
        )
        return updated.to_api(table, by_id=by_id)

    def _list(self, table: TableLayout, list_request: ListRequest, raw: Mapping[str, Any]) -> Any:
        view = raw.get("view")
        if view is not None and view not in (DEFAULT_VIEW, stable_id("viw", table.name)):
            raise AirtableError(
                422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{view}" in table {table.name}'
            )
        if raw.get("cellFormat") not in (None, "json"):
            raise AirtableError(
                422, "INVALID_REQUEST_UNKNOWN", "The fake serves cellFormat=json only"
            )
        by_id = _flag(raw.get("returnFieldsByFieldId"))
        metadata = raw.get("recordMetadata") or []
        only = frozenset(list_request.fields) if list_request.fields else None
        page, offset = self._store.list_page(table, list_request)
        records: list[dict[str, Any]] = []
        for record in page:
            rendered: dict[str, Any] = dict(record.to_api(table, only, by_id))
            if "commentCount" in metadata:
                rendered["commentCount"] = 0
            records.append(rendered)
        payload: dict[str, Any] = {"records": records}
        if offset is not None:
            payload["offset"] = offset
        return payload

    def _create(self, table: TableLayout, body: Any, by_id: bool) -> Any:
        typecast = _flag(body.get("typecast"))
        if "records" in body:
            writes = body["records"]
            _check_batch_size(writes)
            values = [
                self._store.coerce_fields(table, _fields_of(write), typecast) for write in writes
            ]
            created = self._store.create(table, values)
            return {"records": [record.to_api(table, by_id=by_id) for record in created]}
        if "fields" not in body:
            raise AirtableError(
                422,
                "INVALID_REQUEST_MISSING_FIELDS",
                'Could not find field "fields" in the request body',
            )
        (record,) = self._store.create(
            table, [self._store.coerce_fields(table, body["fields"], typecast)]
        )
        return record.to_api(table, by_id=by_id)

    def _update_many(self, table: TableLayout, body: Any, *, replace: bool, by_id: bool) -> Any:
        writes = body.get("records")
        _check_batch_size(writes)
        assert isinstance(writes, list)
        typecast = _flag(body.get("typecast"))
        upsert = body.get("performUpsert")
        merge_on: Any = []
        if upsert is not None:
            merge_on = upsert.get("fieldsToMergeOn") if isinstance(upsert, dict) else None
            if (
                not isinstance(merge_on, list)
                or not merge_on
                or not all(name in table.fields for name in merge_on)
            ):
                raise AirtableError(
                    422, "INVALID_REQUEST_UNKNOWN", "performUpsert.fieldsToMergeOn must name fields"
                )
        # Validate the whole batch before writing anything: Airtable batches are all-or-nothing.
        updates: list[tuple[str, dict[str, Any]]] = []
        creates: list[dict[str, Any]] = []
        for write in writes:
            values = self._store.coerce_fields(table, _fields_of(write), typecast)
            record_id = write.get("id")
            if record_id is None and upsert is not None:
                matches = self._store.find_matches(table, values, merge_on)
                if len(matches) > 1:
                    raise AirtableError(
                        422, "INVALID_VALUE_FOR_COLUMN", f"Upsert matched {len(matches)} records"
                    )
                if matches:
                    record_id = matches[0].id
            if record_id is None:
                if upsert is None:
                    raise AirtableError(422, "INVALID_RECORDS", "Each record to update needs an id")
                creates.append(values)
            else:
                updates.append((record_id, values))
        self._require_existing(table, [record_id for record_id, _ in updates])
        updated = self._store.update(table, updates, replace=replace) if updates else []
        created = self._store.create(table, creates) if creates else []
        payload: dict[str, Any] = {
            "records": [record.to_api(table, by_id=by_id) for record in [*updated, *created]]
        }
        if upsert is not None:
            payload["updatedRecords"] = [record.id for record in updated]
            payload["createdRecords"] = [record.id for record in created]
        return payload

    def _require_existing(self, table: TableLayout, record_ids: Iterable[str]) -> None:
        for record_id in record_ids:
            if record_id not in self._store.records[table.name]:
                raise AirtableError(
                    422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
                )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)


def _fields_of(write: Any) -> Any:
    if not isinstance(write, dict):
        raise AirtableError(422, "INVALID_RECORDS", "Each record must be an object")
    return write.get("fields")


def _check_batch_size(writes: Any) -> None:
    if not isinstance(writes, list) or not 1 <= len(writes) <= MAX_RECORDS_PER_WRITE:
        raise AirtableError(
            422,
            "INVALID_RECORDS",
            f"Send between 1 and {MAX_RECORDS_PER_WRITE} records per request",
        )


def _integer(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", f"{name} must be an integer") from error


def _list_request_from_query(params: QueryParams) -> ListRequest:
    sort: dict[int, dict[str, str]] = {}
    for key, value in params.multi_items():
        match = _SORT_PARAM.match(key)
        if match:
            sort.setdefault(int(match.group(1)), {})[match.group(2)] = value
    fields = params.getlist("fields[]") + params.getlist("fields")
    return ListRequest(
        page_size=_integer(params.get("pageSize", 100), "pageSize"),
        max_records=_integer(params["maxRecords"], "maxRecords")
        if "maxRecords" in params
        else None,
        offset=params.get("offset"),
        fields=fields or None,
        formula=params.get("filterByFormula"),
        sort=[
            (item.get("field", ""), item.get("direction", "asc"))
            for _, item in sorted(sort.items())
        ],
    )


def _list_request_from_body(body: Mapping[str, Any]) -> ListRequest:
    sort = body.get("sort") or []
    fields = body.get("fields")
    if not isinstance(sort, list) or not all(isinstance(item, dict) for item in sort):
        raise AirtableError(
            422, "INVALID_REQUEST_UNKNOWN", "sort must be a list of {field, direction}"
        )
    if fields is not None and not (
        isinstance(fields, list) and all(isinstance(name, str) for name in fields)
    ):
        raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "fields must be a list of field names")
    return ListRequest(
        page_size=_integer(body.get("pageSize", 100), "pageSize"),
        max_records=_integer(body["maxRecords"], "maxRecords")
        if body.get("maxRecords") is not None
        else None,
        offset=body.get("offset"),
        fields=fields or None,
        formula=body.get("filterByFormula"),
        sort=[(str(item.get("field", "")), str(item.get("direction", "asc"))) for item in sort],
    )


def _table_schema(table: TableLayout, layout: Mapping[str, TableLayout]) -> dict[str, Any]:
    fields = []
    for name, spec in table.fields.items():
        field: dict[str, Any] = {"id": table.field_id(name), "name": name}
        if isinstance(spec, Scalar):
            field["type"] = spec.type
            if spec.type == "number":
                field["options"] = {"precision": 0}
            elif spec.type == "checkbox":
                field["options"] = {"color": "greenBright", "icon": "check"}
        elif isinstance(spec, Link):
            target = layout[spec.table]
            options: dict[str, Any] = {
                "linkedTableId": target.id,
                "isReversed": False,
                "prefersSingleRecordLink": spec.single,
            }
            if spec.inverse is not None:
                options["inverseLinkFieldId"] = target.field_id(spec.inverse)
            field.update(type="multipleRecordLinks", options=options)
        else:
            assert isinstance(spec, Lookup)
            via = table.fields[spec.via]
            assert isinstance(via, Link)
            lookup_options: dict[str, Any] = {
                "isValid": True,
                "recordLinkFieldId": table.field_id(spec.via),
                "result": {"type": "singleLineText"},
            }
            if spec.source is not None:
                lookup_options["fieldIdInLinkedTable"] = layout[via.table].field_id(spec.source)
            field.update(type="multipleLookupValues", options=lookup_options)
        fields.append(field)
    return {
        "id": table.id,
        "name": table.name,
        "primaryFieldId": table.field_id(table.primary_field),
        "fields": fields,
        "views": [{"id": stable_id("viw", table.name), "name": DEFAULT_VIEW, "type": "grid"}],
    }


def main(argv: list[str] | None = None) -> None:
    """Serve a generated v1 base until interrupted, printing the variables that point at it."""
    from podium_devtools.airtable_base import generate_base  # the CLI alone needs the generator

    parser = argparse.ArgumentParser(
        prog="python -m podium_devtools.fake_airtable", description=main.__doc__
    )
    parser.add_argument("--records", type=int, default=5_000, help="total records in the base")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--port", type=int, default=8787, help="port on 127.0.0.1 (0: any free port)"
    )
    parser.add_argument("--token", default="dev", help="the bearer token the fake accepts")
    parser.add_argument("--clean", action="store_true", help="no planted mess")
    parser.add_argument(
        "--rate-limit", type=float, default=5.0, help="requests/second; 0 for unthrottled"
    )
    parser.add_argument(
        "--penalty", type=float, default=30.0, help="seconds refused after a 429 (Airtable: 30)"
    )
    parser.add_argument(
        "--pace", type=float, default=None, help="delay requests to serve at most this many/second"
    )
    parser.add_argument(
        "--offset-ttl", type=float, default=300.0, help="idle seconds before a listing expires"
    )
    arguments = parser.parse_args(argv)

    try:
        base = generate_base(arguments.records, seed=arguments.seed, mess=not arguments.clean)
    except ValueError as error:  # includes TooSmallForMess
        parser.error(f"{error} (or pass --clean)")
    fake = FakeAirtable(
        base.tables,
        token=arguments.token,
        rate_limit=arguments.rate_limit or None,
        rate_limit_penalty=arguments.penalty,
        pace=arguments.pace,
        offset_ttl=arguments.offset_ttl,
        clock=FakeClock(wall=True),
        port=arguments.port,
    )
    with fake:
        print(f"# fake Airtable: {base.record_count} records, seed {arguments.seed}")
        for kind, record_ids in base.manifest.records.items():
            if record_ids:
                print(f"#   mess {kind}: {len(record_ids)}")
        for name, value in fake.env().items():
            print(f"export {name}={value}")
        print("# Ctrl-C (or SIGTERM) to stop", flush=True)
        stopping = threading.Event()
        # Installed explicitly: a background job may have inherited SIGINT as ignored.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stopping.set())
        while not stopping.wait(0.5):
            pass


if __name__ == "__main__":
    main()
