"""Reading the v1 base with pyairtable, politely and through faults.

- A client-side rate limiter keeps every second (as the server counts it) within the base's
  limit (5/s), so Airtable's 429 (and its 30 s penalty) is the exception, not the pacing.
- A requests adapter mounted on pyairtable's session waits `rate_limit_wait` after a 429, retries
  5xx and connection errors with exponential backoff, and counts what happened.
- A listing whose offset expired (422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE) is restarted; records
  already delivered are skipped, so each record is delivered once.

pyairtable is synchronous: the pipeline runs these iterators in worker threads (a couple at once,
sharing the limiter, so one request's latency does not idle the rate budget).
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from pyairtable import Api
from requests.adapters import HTTPAdapter

PAGE_SIZE = 100
ITERATOR_EXPIRED = "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


class Stopped(Exception):
    """The reader was asked to stop (the run was cancelled)."""


class ListingKeepsExpiring(RuntimeError):
    """Restarting a listing after 422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE made no progress."""


class _Slot:
    """One request's place in the window: when its answer arrived (None while in flight)."""

    __slots__ = ("answered",)

    def __init__(self) -> None:
        self.answered: float | None = None


class RateLimiter:
    """At most `limit` requests in any `window` seconds, as the server counts them (thread-safe).

    Airtable counts the requests it receives in a sliding second. The server sees a request
    somewhere between our sending it and our receiving its answer, so a request may only start
    `window` after the answer to the request `limit` places before it: then no jitter, latency
    or concurrency can put `limit + 1` requests in one of the server's windows.
    """

    def __init__(
        self,
        per_second: float,
        *,
        window: float = 1.0,
        margin: float = 0.01,
        stop: threading.Event,
    ) -> None:
        self.limit = max(1, int(per_second * window + 1e-9))
        self.window = window * (1.0 + margin)
        self._slots: deque[_Slot] = deque()
        self._changed = threading.Condition()
        self._stop = stop
        # Start as if the window were full: another tool (a backfill, a verify, a write-back) may
        # have used it up just before this process started, and Airtable counts per base, not
        # per process. One window's wait beats a 429 and its 30 s penalty.
        started = time.monotonic()
        for _ in range(self.limit):
            slot = _Slot()
            slot.answered = started
            self._slots.append(slot)

    def acquire(self) -> _Slot:
        with self._changed:
            while len(self._slots) >= self.limit:
                if self._stop.is_set():
                    raise Stopped
                answered = self._slots[0].answered
                if answered is None:
                    self._changed.wait(0.1)  # the oldest request is still in flight
                    continue
                delay = answered + self.window - time.monotonic()
                if delay <= 0:
                    self._slots.popleft()
                else:
                    self._changed.wait(min(delay, 0.1))
            slot = _Slot()
            self._slots.append(slot)
            return slot

    def release(self, slot: _Slot) -> None:
        with self._changed:
            slot.answered = time.monotonic()
            self._changed.notify_all()


@dataclass
class RetryPolicy:
    rate_limit_wait: float = 30.0  # Airtable: after a 429, wait 30 s
    max_rate_limited: int = 10  # consecutive 429s before giving up
    max_retries: int = 5  # 5xx and connection errors
    backoff: float = 1.0  # first retry after ~1 s, then 2, 4, ... (with jitter)
    max_backoff: float = 30.0


@dataclass
class ReadStats:
    requests: int = 0
    rate_limited: int = 0
    retried: int = 0
    restarts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "retried": self.retried,
            "restarts": self.restarts,
        }


class ResilientAdapter(HTTPAdapter):
    """Rate-limits every request and retries 429, 5xx and connection failures."""

    def __init__(
        self,
        limiter: RateLimiter,
        policy: RetryPolicy,
        stats: ReadStats,
        stop: threading.Event,
    ) -> None:
        super().__init__(max_retries=0)
        self.limiter = limiter
        self.policy = policy
        self.stats = stats
        self.stop = stop

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        failures = rate_limited = 0
        while True:
            slot = self.limiter.acquire()
            self.stats.count("requests")
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                self.limiter.release(slot)
                failures += 1
                if failures > self.policy.max_retries:
                    raise
                self._pause(self._backoff(failures))
                continue
            self.limiter.release(slot)
            if response.status_code == 429:
                self.stats.count("rate_limited")
                rate_limited += 1
                if rate_limited > self.policy.max_rate_limited:
                    return response
                response.close()
                self._pause(self.policy.rate_limit_wait)
                continue
            if response.status_code >= 500 and failures < self.policy.max_retries:
                failures += 1
                response.close()
                self._pause(self._backoff(failures))
                continue
            return response

    def _backoff(self, failures: int) -> float:
        self.stats.count("retried")
        delay = min(self.policy.max_backoff, self.policy.backoff * 2.0 ** (failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def _pause(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped


@dataclass(frozen=True)
class SourceConfig:
    token: str
    base_id: str
    api_url: str
    tables: dict[str, str]  # stage (v1 table) → configured table name or id
    requests_per_second: float = 5.0
    rate_window: float = 1.0  # the server's counting window (Airtable: one second)
    concurrency: int = 2  # listings read at once (hides latency; the limiter is shared)
    timeout: tuple[float, float] = (10.0, 60.0)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_restarts: int = 5  # restarts of one listing in a row without a new record


class AirtableSource:
    """Pages of records from the v1 base, each record once per listing."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.stop = threading.Event()
        self.stats = ReadStats()
        self.limiter = RateLimiter(
            config.requests_per_second, window=config.rate_window, stop=self.stop
        )
        self._local = threading.local()
        self._apis: list[Api] = []
        self._apis_lock = threading.Lock()

    @property
    def api(self) -> Api:
        """This thread's pyairtable client (a requests session is not shared between threads)."""
        api: Api | None = getattr(self._local, "api", None)
        if api is None:
            api = Api(
                self.config.token,
                endpoint_url=self.config.api_url.rstrip("/"),
                timeout=self.config.timeout,  # type: ignore[arg-type]
                retry_strategy=None,
            )
            adapter = ResilientAdapter(self.limiter, self.config.policy, self.stats, self.stop)
            api.session.mount("https://", adapter)
            api.session.mount("http://", adapter)
            self._local.api = api
            with self._apis_lock:
                self._apis.append(api)
        return api

    def pages(
        self,
        stage: str,
        *,
        fields: Sequence[str] | None = None,
        formula: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        table = self.api.table(self.config.base_id, self.config.tables[stage])
        options: dict[str, Any] = {"page_size": PAGE_SIZE}
        if fields is not None:
            options["fields"] = list(fields)
        if formula is not None:
            options["formula"] = formula
        delivered: set[str] = set()
        fruitless_restarts = 0
        while True:
            try:
                for page in table.iterate(**options):
                    if self.stop.is_set():
                        raise Stopped
                    fresh: list[dict[str, Any]] = [
                        record  # type: ignore[misc]
                        for record in page
                        if record["id"] not in delivered
                    ]
                    if fresh:
                        fruitless_restarts = 0
                        delivered.update(str(record["id"]) for record in fresh)
                        yield fresh
                return
            except requests.HTTPError as error:
                if not _iterator_expired(error):
                    raise
                self.stats.count("restarts")
                fruitless_restarts += 1
                if fruitless_restarts > self.config.max_restarts:
                    raise ListingKeepsExpiring(
                        f"the {stage} listing expired {fruitless_restarts} times in a row "
                        "without delivering a new record"
                    ) from error

    def close(self) -> None:
        self.stop.set()
        with self._apis_lock:
            for api in self._apis:
                api.session.close()


def _iterator_expired(error: requests.HTTPError) -> bool:
    response = error.response
    if response is None or response.status_code != 422:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    failure = body.get("error") if isinstance(body, dict) else None
    kind = failure.get("type") if isinstance(failure, dict) else failure
    return kind == ITERATOR_EXPIRED


def since_formula(since: str) -> str:
    """Records created or modified at or after `since` (an ISO 8601 UTC time)."""
    moment = f"DATETIME_PARSE('{since}')"
    return (
        f"OR(NOT(IS_BEFORE(LAST_MODIFIED_TIME(), {moment})), "
        f"NOT(IS_BEFORE(CREATED_TIME(), {moment})))"
    )


def ids_formula(record_ids: Sequence[str]) -> str:
    """Exactly these records (ids are rec + 14 letters/digits, so nothing needs escaping)."""
    return "OR(" + ", ".join(f"RECORD_ID()='{record_id}'" for record_id in record_ids) + ")"
