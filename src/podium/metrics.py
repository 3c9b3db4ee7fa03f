"""What the service counts for Prometheus, and the text a scrape of `/metrics` answers.

prometheus-client's own metrics, in its multiprocess mode under `podium serve --workers N`: the
supervisor gives every worker one directory (`PROMETHEUS_MULTIPROC_DIR`, see
`multiprocess_directory`), each worker writes its values to files there, and a scrape, whichever
worker takes it, reads them all. Without the variable (one process: `podium serve --workers 1`,
`podium dev`, the tests) the values live in the process and the scrape reads them there.

Every label has a bounded set of values: a route template, never a raw path; a status; an
exception class name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# A request's latency, in seconds: from the fast single-row reads (~1 ms) to the request
# deadline (15 s by default), a bucket per step an operator would alert on.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0)

REQUESTS = Counter(
    "podium_http_requests",
    "HTTP requests answered, by method, route template and status",
    ("method", "route", "status"),
)
# Without the status (as prometheus-fastapi-instrumentator does): 13 buckets per route and
# method, where status would multiply them again; the counter above has the status.
LATENCY = Histogram(
    "podium_http_request_duration_seconds",
    "Time from the request's arrival to its response's last byte, by method and route template",
    ("method", "route"),
    buckets=LATENCY_BUCKETS,
)
DATABASE_UNAVAILABLE = Counter(
    "podium_database_unavailable",
    "Requests answered 503 because of the database, by the driver error behind it",
    ("error",),
)
VOTES_CAST = Counter("podium_votes_cast", "Votes stored (one per project voted for)")
LOGIN_MAILS_SENT = Counter(
    "podium_login_mails_sent",
    "Login links handed to the mail provider (or, in development, the log)",
)
# The pool of each worker, summed over the live workers (a worker that died drops out).
POOL_CONNECTIONS = Gauge(
    "podium_db_pool_connections",
    "Open connections of the app's database pools, in use by a request or idle",
    ("pool", "state"),
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "podium_db_pool_max_connections",
    "Connections the app's database pools may open (workers x PODIUM_DATABASE_POOL_SIZE)",
    ("pool",),
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "podium_db_pool_waiting",
    "Requests waiting for a free connection of the app's database pools",
    ("pool",),
    multiprocess_mode="livesum",
)

# How often each worker writes its pool's figures in multiprocess mode, where a scrape cannot
# ask the other workers' pools (in one process the scrape reads the pool itself).
POOL_SAMPLE_SECONDS = 1.0


class PoolFigures(Protocol):
    """What podium.db.Database tells of its pool."""

    def pool_figures(self) -> tuple[int, int, int, int]:
        """(in use, idle, waiting, maximum)."""
        ...


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_VARIABLE))


def record_pool(database: PoolFigures, pool: str = "primary") -> None:
    in_use, idle, waiting, maximum = database.pool_figures()
    POOL_CONNECTIONS.labels(pool, "in_use").set(in_use)
    POOL_CONNECTIONS.labels(pool, "idle").set(idle)
    POOL_WAITING.labels(pool).set(waiting)
    POOL_MAX.labels(pool).set(maximum)


@asynccontextmanager
async def pool_sampler(database: PoolFigures) -> AsyncIterator[None]:
    """In multiprocess mode, write this worker's pool figures every POOL_SAMPLE_SECONDS while
    the block runs; in one process, nothing (the scrape reads the pool)."""
    if not is_multiprocess():
        yield
        return

    async def sample() -> None:
        while True:
            record_pool(database)
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    task = asyncio.create_task(sample(), name="podium-pool-sampler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def database_unavailable(cause: BaseException | None) -> None:
    """Count one request answered 503 for the database, by the error class behind it (none: a
    COMMIT the server did not answer in time, podium.db._commit)."""
    DATABASE_UNAVAILABLE.labels(type(cause).__name__ if cause is not None else "none").inc()


def scrape(database: PoolFigures | None) -> bytes:
    """The text exposition of every metric: this process's, or every worker's."""
    if database is not None:
        record_pool(database)
    directory = os.environ.get(MULTIPROCESS_VARIABLE)
    if not directory:
        return generate_latest(REGISTRY)
    _forget_dead_workers(Path(directory))
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that are gone (prometheus-client's mark_process_dead),
    so a killed worker's pool is not counted; its counters stay, as totals should. Done here
    by whichever worker is scraped, so the supervisor needs no hook for it."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not _alive(pid):
            prometheus_multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[None]:
    """For the supervisor: the workers it starts share a fresh metrics directory, removed when
    they are done. One the operator set (a tmpfs, say) is used, emptied of a previous run's
    files first: prometheus-client would add them in."""
    given = os.environ.get(MULTIPROCESS_VARIABLE)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    directory = tempfile.mkdtemp(prefix="podium-metrics-")
    os.environ[MULTIPROCESS_VARIABLE] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_VARIABLE]
        shutil.rmtree(directory, ignore_errors=True)
