"""Reading the v1 base with pyairtable, politely and through faults.

- A client-side rate limiter spaces requests so the base's limit (5/s) is never exceeded, so
  Airtable's 429 (and its 30 s penalty) is the exception, not the pacing mechanism.
- A requests adapter mounted on pyairtable's session waits `rate_limit_wait` after a 429, retries
  5xx and connection errors with exponential backoff, and counts what happened.
- A listing whose offset expired (422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE) is restarted; records
  already delivered are skipped, so each record is delivered once.

pyairtable is synchronous: the pipeline runs these iterators in a thread.
"""

from __future__ import annotations

import random
import threading
import time
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


class RateLimiter:
    """Spaces request starts at least 1/rate apart (thread-safe).

    Spacing rather than bursting: Airtable counts requests in a sliding second, so five requests
    sent at once and a sixth a second later can meet a slightly late first one in the same
    window. `margin` stretches the spacing to absorb such jitter.
    """

    def __init__(self, per_second: float, *, margin: float = 0.02, stop: threading.Event) -> None:
        self.interval = (1.0 + margin) / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._stop = stop

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now and self._stop.wait(slot - now):
            raise Stopped


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
            self.limiter.acquire()
            self.stats.count("requests")
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                failures += 1
                if failures > self.policy.max_retries:
                    raise
                self._pause(self._backoff(failures))
                continue
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
    timeout: tuple[float, float] = (10.0, 60.0)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    max_restarts: int = 5  # restarts of one listing in a row without a new record


class AirtableSource:
    """Pages of records from the v1 base, each record once per listing."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.stop = threading.Event()
        self.stats = ReadStats()
        self.limiter = RateLimiter(config.requests_per_second, stop=self.stop)
        self.api = Api(
            config.token,
            endpoint_url=config.api_url.rstrip("/"),
            timeout=config.timeout,  # type: ignore[arg-type]
            retry_strategy=None,
        )
        adapter = ResilientAdapter(self.limiter, config.policy, self.stats, self.stop)
        self.api.session.mount("https://", adapter)
        self.api.session.mount("http://", adapter)

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
        self.api.session.close()


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
