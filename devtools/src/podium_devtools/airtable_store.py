"""In-memory Airtable base semantics, without HTTP: records, two-sided links, lookups, listings.

`fake_airtable` serves this over HTTP. Behaviour copied from Airtable on purpose:
- empty values (None, "", False, []) are never stored, so they are absent from `fields`;
- a link and its inverse are one relation: writing either side updates the other, and the other
  record's last-modified time too (a link is a user-editable field);
- lookups are recomputed when the records they depend on are written through the store, without
  touching last-modified (computed fields do not count, as in LAST_MODIFIED_TIME()); values
  loaded with `load` are served as given, so a generated base's formula errors survive;
- batch writes are all-or-nothing: every record is validated before anything changes;
- a listing is a snapshot of matching record ids taken when it starts, so paging through it
  returns each record at most once even while others write.

Not thread-safe by itself: the caller holds one lock around every call.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from podium_devtools.airtable_formula import FormulaError, RecordView, compile_formula
from podium_devtools.airtable_layout import (
    ID_ALPHABET,
    RECORD_ID_RE,
    AirtableRecord,
    Link,
    Lookup,
    Scalar,
    TableLayout,
    format_time,
    is_empty,
    lookup_value,
    parse_time,
    truncate_to_ms,
    without_empty,
)

MAX_PAGE_SIZE = 100
MAX_RECORDS_PER_WRITE = 10
DEFAULT_CLOCK_START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


class AirtableError(Exception):
    """An error answer in Airtable's shape: `{"error": {"type": ..., "message": ...}}`."""

    def __init__(self, status: int, error_type: str, message: str | None = None) -> None:
        super().__init__(f"{status} {error_type}: {message}")
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type}
        if self.message is not None:
            error["message"] = self.message
        return {"error": error}


class FakeClock:
    """The fake's notion of now, for createdTime and LAST_MODIFIED_TIME().

    Manual by default (starts at `start`, moves only by `advance`/`set`) so a delta test can say
    "changed since T" exactly; `wall=True` follows the real clock (plus any `advance`) for a
    person running the CLI. Every write gets a distinct time strictly after any `now()` read
    before it, so "IS_AFTER(LAST_MODIFIED_TIME(), <now() before the write>)" always holds.
    """

    def __init__(self, start: datetime | None = None, *, wall: bool = False) -> None:
        self._lock = threading.Lock()
        self._wall = wall
        self._manual = truncate_to_ms(start or DEFAULT_CLOCK_START)
        self._offset = timedelta()
        self._last_write = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        base = truncate_to_ms(datetime.now(UTC)) + self._offset if self._wall else self._manual
        return max(base, self._last_write)

    def advance(self, delta: timedelta | float) -> datetime:
        """Move time forward by `delta` (seconds or a timedelta); return the new now."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            if self._wall:
                self._offset += step
            else:
                self._manual = truncate_to_ms(self._now() + step)
            return self._now()

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (manual clock only); writes still never go back in time."""
        if self._wall:
            raise ValueError("a wall clock cannot be set, only advanced")
        with self._lock:
            self._manual = truncate_to_ms(moment.astimezone(UTC))

    def tick(self) -> datetime:
        """A time for a write: strictly after every earlier write and every earlier `now()`."""
        with self._lock:
            moment = max(self._now(), self._last_write) + _MILLISECOND
            self._last_write = moment
            if not self._wall:
                self._manual = moment
            return moment


@dataclass
class StoredRecord:
    id: str
    created: datetime
    modified: datetime
    fields: dict[str, Any]

    def to_api(
        self, table: TableLayout, only: frozenset[str] | None = None, by_id: bool = False
    ) -> AirtableRecord:
        fields = {
            table.field_id(name) if by_id else name: _copy_value(value)
            for name, value in self.fields.items()
            if only is None or name in only
        }
        return {"id": self.id, "createdTime": format_time(self.created), "fields": fields}

    def view(self) -> RecordView:
        return RecordView(
            id=self.id, created=self.created, modified=self.modified, fields=self.fields
        )


@dataclass
class ListRequest:
    """The parameters of one List records call, from a query string or a listRecords body."""

    page_size: int = MAX_PAGE_SIZE
    max_records: int | None = None
    offset: str | None = None
    fields: list[str] | None = None
    formula: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Listing:
    """A listing in progress: its snapshot of ids and how far the client got."""

    token: str
    table: str
    ids: list[str]
    position: int = 0
    pages_served: int = 0
    remaining: int | None = None
    last_used: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Dependent:
    """A lookup in `table`.`lookup` that shows a field of the records its `via` link points at."""

    table: str
    lookup: str
    via: str
    inverse: str | None


class AirtableStore:
    """One base's tables, with Airtable's write, link, lookup and listing rules."""

    MAX_LIVE_LISTINGS = 1000

    def __init__(
        self, layout: Mapping[str, TableLayout], clock: FakeClock, *, seed: int = 0
    ) -> None:
        self.layout = layout
        self.clock = clock
        self.records: dict[str, dict[str, StoredRecord]] = {name: {} for name in layout}
        self._by_id = {table.id: table for table in layout.values()}
        self._random = random.Random(seed)
        self._listings: dict[str, _Listing] = {}
        # Which lookups show which field, and which one-way links point at which table: written
        # once here so a write does not scan the layout.
        self._dependents: dict[tuple[str, str], list[_Dependent]] = {}
        self._one_way_links: dict[str, list[tuple[str, str]]] = {name: [] for name in layout}
        for table in layout.values():
            for name, spec in table.fields.items():
                if isinstance(spec, Link) and spec.inverse is None:
                    self._one_way_links[spec.table].append((table.name, name))
                if isinstance(spec, Lookup) and spec.source is not None:
                    via = table.fields[spec.via]
                    assert isinstance(via, Link)
                    self._dependents.setdefault((via.table, spec.source), []).append(
                        _Dependent(table.name, name, spec.via, via.inverse)
                    )
        self.offset_max_pages: int | None = None
        self.offset_ttl: float | None = None

    # -- addressing ------------------------------------------------------------------------

    def resolve_table(self, name_or_id: str) -> TableLayout | None:
        return self.layout.get(name_or_id) or self._by_id.get(name_or_id)

    def get(self, table: TableLayout, record_id: str) -> StoredRecord:
        record = self.records[table.name].get(record_id)
        if record is None:
            raise AirtableError(404, "MODEL_ID_NOT_FOUND", f"Could not find record {record_id}")
        return record

    def _field_name(self, table: TableLayout, key: str) -> str:
        if key in table.fields:
            return key
        for name in table.fields:
            if table.field_id(name) == key:
                return name
        raise AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{key}"')

    def _new_record_id(self) -> str:
        while True:
            candidate = "rec" + "".join(self._random.choice(ID_ALPHABET) for _ in range(14))
            if all(candidate not in records for records in self.records.values()):
                return candidate

    # -- loading ---------------------------------------------------------------------------

    def load(self, tables: Mapping[str, Iterable[AirtableRecord]], *, replace: bool = True) -> int:
        """Put records in as given (links and lookups untouched); return how many were loaded."""
        if replace:
            for records in self.records.values():
                records.clear()
            self._listings.clear()
        loaded = 0
        latest = None
        for table_name, incoming in tables.items():
            table = self.resolve_table(table_name)
            if table is None:
                raise ValueError(f"unknown table {table_name!r}")
            for record in incoming:
                unknown = set(record["fields"]) - set(table.fields)
                if unknown:
                    raise ValueError(
                        f"{table.name}/{record['id']}: unknown fields {sorted(unknown)}"
                    )
                if any(record["id"] in existing for existing in self.records.values()):
                    raise ValueError(f"duplicate record id {record['id']}")
                created = parse_time(record["createdTime"])
                self.records[table.name][record["id"]] = StoredRecord(
                    id=record["id"],
                    created=created,
                    modified=created,
                    fields={
                        name: _copy_value(value)
                        for name, value in without_empty(record["fields"]).items()
                    },
                )
                latest = created if latest is None else max(latest, created)
                loaded += 1
        if latest is not None and self.clock.now() <= latest:
            # A clock behind the data would make fresh writes look older than loaded records.
            self.clock.advance(latest - self.clock.now() + timedelta(seconds=1))
        return loaded

    # -- writing ---------------------------------------------------------------------------

    def coerce_fields(self, table: TableLayout, fields: Any, typecast: bool) -> dict[str, Any]:
        """Validate a write's `fields` object; return field name → value (None = clear)."""
        if not isinstance(fields, dict):
            raise AirtableError(422, "INVALID_RECORDS", "Each record needs a fields object")
        return dict(self._coerce(table, key, value, typecast) for key, value in fields.items())

    def _coerce(self, table: TableLayout, key: str, value: Any, typecast: bool) -> tuple[str, Any]:
        name = self._field_name(table, key)
        spec = table.fields[name]
        if isinstance(spec, Lookup):
            raise AirtableError(
                422,
                "INVALID_VALUE_FOR_COLUMN",
                f'Field "{name}" cannot accept a value because the field is computed',
            )
        if is_empty(value):
            return name, None
        invalid = AirtableError(
            422, "INVALID_VALUE_FOR_COLUMN", f'Field "{name}" cannot accept the provided value'
        )
        if isinstance(spec, Link):
            if typecast and isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise invalid
            targets = self.records[spec.table]
            for record_id in value:
                if record_id not in targets:
                    raise AirtableError(
                        422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist"
                    )
            return name, list(dict.fromkeys(value))
        assert isinstance(spec, Scalar)
        if spec.type == "checkbox":
            if typecast and isinstance(value, str):
                value = value.strip().lower() in ("true", "1", "yes", "checked")
            if not isinstance(value, bool):
                raise invalid
            return name, value or None
        if spec.type == "number":
            if typecast and isinstance(value, str):
                try:
                    value = float(value)
                except ValueError as error:
                    raise invalid from error
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid
            return name, int(value) if isinstance(value, float) and value.is_integer() else value
        if typecast and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise invalid
        return name, value

    def create(
        self,
        table: TableLayout,
        writes: Sequence[dict[str, Any]],
        *,
        created: datetime | None = None,
        record_id: str | None = None,
    ) -> list[StoredRecord]:
        """Create records from coerced field values (`record_id` only for a single write)."""
        if record_id is not None:
            if len(writes) != 1 or not RECORD_ID_RE.match(record_id):
                raise ValueError(
                    "record_id needs exactly one write and the form rec + 14 letters/digits"
                )
            if any(record_id in records for records in self.records.values()):
                raise ValueError(f"duplicate record id {record_id}")
        now = self.clock.tick()
        touched: set[tuple[str, str]] = set()
        created_records = []
        for values in writes:
            new_id = record_id or self._new_record_id()
            moment = now if created is None else truncate_to_ms(_as_utc(created))
            record = StoredRecord(id=new_id, created=moment, modified=max(moment, now), fields={})
            self.records[table.name][new_id] = record
            self._apply(table, record, values, replace=False, now=now, touched=touched)
            created_records.append(record)
        self._refresh_lookups(touched)
        return created_records

    def update(
        self, table: TableLayout, writes: Sequence[tuple[str, dict[str, Any]]], *, replace: bool
    ) -> list[StoredRecord]:
        """Update existing records with coerced values; PUT semantics if `replace`."""
        records = [self.get(table, record_id) for record_id, _ in writes]
        now = self.clock.tick()
        touched: set[tuple[str, str]] = set()
        for record, (_, values) in zip(records, writes, strict=True):
            self._apply(table, record, values, replace=replace, now=now, touched=touched)
        self._refresh_lookups(touched)
        return records

    def delete(self, table: TableLayout, record_ids: Sequence[str]) -> None:
        for record_id in record_ids:
            self.get(table, record_id)
        now = self.clock.tick()
        touched: set[tuple[str, str]] = set()
        for record_id in record_ids:
            record = self.records[table.name].pop(record_id)
            for name, spec in table.fields.items():
                if isinstance(spec, Link) and spec.inverse is not None:
                    for target_id in record.fields.get(name, []):
                        self._unlink(spec.table, target_id, spec.inverse, record_id, now, touched)
            for other_table, link_field in self._one_way_links[table.name]:
                for other in self.records[other_table].values():
                    if record_id in other.fields.get(link_field, []):
                        self._unlink(other_table, other.id, link_field, record_id, now, touched)
        self._refresh_lookups({(name, rid) for name, rid in touched if rid in self.records[name]})

    def find_matches(
        self, table: TableLayout, values: Mapping[str, Any], merge_on: Sequence[str]
    ) -> list[StoredRecord]:
        """Records whose `merge_on` fields equal those in `values` (for performUpsert)."""
        return [
            record
            for record in self.records[table.name].values()
            if all(record.fields.get(name) == values.get(name) for name in merge_on)
        ]

    def _apply(
        self,
        table: TableLayout,
        record: StoredRecord,
        values: Mapping[str, Any],
        *,
        replace: bool,
        now: datetime,
        touched: set[tuple[str, str]],
    ) -> None:
        if replace:
            values = {
                name: values.get(name)
                for name, spec in table.fields.items()
                if not isinstance(spec, Lookup)
            }
        changed = []
        for name, value in values.items():
            old = record.fields.get(name)
            spec = table.fields[name]
            if isinstance(spec, Link) and spec.inverse is not None:
                old_ids, new_ids = old or [], value or []
                for target_id in old_ids:
                    if target_id not in new_ids:
                        self._unlink(spec.table, target_id, spec.inverse, record.id, now, touched)
                for target_id in new_ids:
                    if target_id not in old_ids:
                        self._link(spec.table, target_id, spec.inverse, record.id, now, touched)
            if value is None:
                record.fields.pop(name, None)
            else:
                record.fields[name] = value
            if old != value:
                changed.append(name)
        record.modified = now
        touched.add((table.name, record.id))
        for name in changed:
            for dependent in self._dependents.get((table.name, name), []):
                if dependent.inverse is not None:
                    touched.update(
                        (dependent.table, rid) for rid in record.fields.get(dependent.inverse, [])
                    )
                else:
                    touched.update(
                        (dependent.table, other.id)
                        for other in self.records[dependent.table].values()
                        if record.id in other.fields.get(dependent.via, [])
                    )

    def _link(
        self,
        table: str,
        record_id: str,
        field_name: str,
        target: str,
        now: datetime,
        touched: set[tuple[str, str]],
    ) -> None:
        record = self.records[table].get(record_id)
        if record is None:
            return
        links = record.fields.setdefault(field_name, [])
        if target not in links:
            links.append(target)
        record.modified = now
        touched.add((table, record_id))

    def _unlink(
        self,
        table: str,
        record_id: str,
        field_name: str,
        target: str,
        now: datetime,
        touched: set[tuple[str, str]],
    ) -> None:
        record = self.records[table].get(record_id)
        if record is None:
            return
        links = [linked for linked in record.fields.get(field_name, []) if linked != target]
        if links:
            record.fields[field_name] = links
        else:
            record.fields.pop(field_name, None)
        record.modified = now
        touched.add((table, record_id))

    def _refresh_lookups(self, touched: Iterable[tuple[str, str]]) -> None:
        for table_name, record_id in touched:
            record = self.records[table_name].get(record_id)
            if record is None:
                continue
            table = self.layout[table_name]
            for name, spec in table.fields.items():
                if not isinstance(spec, Lookup):
                    continue
                via = table.fields[spec.via]
                assert isinstance(via, Link)
                targets = self.records[via.table]

                def linked_fields(
                    target_id: str, targets: dict[str, StoredRecord] = targets
                ) -> dict[str, Any] | None:
                    target = targets.get(target_id)
                    return None if target is None else target.fields

                value = lookup_value(spec, record.fields, linked_fields)
                if value:
                    record.fields[name] = value
                else:
                    record.fields.pop(name, None)

    # -- listing ---------------------------------------------------------------------------

    def list_page(
        self, table: TableLayout, request: ListRequest
    ) -> tuple[list[StoredRecord], str | None]:
        """One page of a listing, and the offset for the next page (None at the end)."""
        if not 1 <= request.page_size <= MAX_PAGE_SIZE:
            raise AirtableError(
                422, "INVALID_PAGE_SIZE", f"pageSize must be between 1 and {MAX_PAGE_SIZE}"
            )
        listing = (
            self._continue(table, request.offset) if request.offset else self._start(table, request)
        )
        listing.last_used = time.monotonic()
        listing.pages_served += 1
        limit = (
            request.page_size
            if listing.remaining is None
            else min(request.page_size, listing.remaining)
        )
        page: list[StoredRecord] = []
        records = self.records[table.name]
        while listing.position < len(listing.ids) and len(page) < limit:
            record = records.get(listing.ids[listing.position])
            listing.position += 1
            if record is not None:  # deleted since the listing started
                page.append(record)
        if listing.remaining is not None:
            listing.remaining -= len(page)
        if listing.position >= len(listing.ids) or listing.remaining == 0:
            self._end(listing.token)
            return page, None
        return page, f"{listing.token}/{listing.ids[listing.position]}"

    def _start(self, table: TableLayout, request: ListRequest) -> _Listing:
        known = frozenset(table.fields)
        for name in request.fields or []:
            if name not in known:
                raise AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        candidates = list(self.records[table.name].values())
        if request.formula:
            try:
                predicate = compile_formula(request.formula, known)
                candidates = [record for record in candidates if predicate(record.view())]
            except FormulaError as error:
                raise AirtableError(
                    422,
                    "INVALID_FILTER_BY_FORMULA",
                    f"The formula for filtering records is invalid: {error}",
                ) from error
        for name, direction in reversed(request.sort):
            if name not in known:
                raise AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
            candidates.sort(key=_sort_key_for(name), reverse=direction == "desc")
        token = "itr" + "".join(self._random.choice(ID_ALPHABET) for _ in range(14))
        listing = _Listing(
            token=token,
            table=table.name,
            ids=[record.id for record in candidates],
            remaining=request.max_records,
        )
        if len(self._listings) >= self.MAX_LIVE_LISTINGS:
            # Forget the least recently used listing, as a real server forgets idle iterators.
            self._end(min(self._listings.values(), key=lambda item: item.last_used).token)
        self._listings[token] = listing
        return listing

    def _continue(self, table: TableLayout, offset: str) -> _Listing:
        token, _, next_id = offset.partition("/")
        if not (token.startswith("itr") and len(token) == 17 and RECORD_ID_RE.match(next_id)):
            raise AirtableError(
                422, "INVALID_OFFSET_VALUE", f"The value of offset {offset} is invalid"
            )
        listing = self._listings.get(token)
        if (
            listing is None
            or listing.table != table.name
            or (self.offset_max_pages is not None and listing.pages_served >= self.offset_max_pages)
            or (
                self.offset_ttl is not None
                and time.monotonic() - listing.last_used > self.offset_ttl
            )
        ):
            # Unknown tokens land here too: after a restart Airtable has forgotten them as well.
            self._end(token)
            raise AirtableError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")
        return listing

    def expire_listing(self, offset: str) -> None:
        self._end(offset.partition("/")[0])

    def _end(self, token: str) -> None:
        self._listings.pop(token, None)

    @property
    def live_listings(self) -> int:
        return len(self._listings)


def _copy_value(value: Any) -> Any:
    """Copy a field value: Airtable values are scalars, arrays of scalars or flat error objects,
    so one level is enough (and far cheaper than deepcopy on a 50,000-record base)."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _as_utc(moment: datetime) -> datetime:
    """A naive time is taken as UTC, as Airtable takes it."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sort_key_for(name: str) -> Callable[[StoredRecord], tuple[int, Any]]:
    return lambda record: _sort_key(record.fields.get(name))


def _sort_key(value: Any) -> tuple[int, Any]:
    if is_empty(value):
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, list):
        return (2, ", ".join(map(str, value)))
    return (2, str(value))
