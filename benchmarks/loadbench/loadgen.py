"""Open-model load: every request has a scheduled time and is sent then, whatever came back.

A closed loop (N clients, each waiting for its answer) slows down when the server does, so the
slow responses it should measure never get sent ("coordinated omission"). Here the schedule is
fixed in advance; latency is measured from the *scheduled* time to the last byte, so waiting in
the client (no free connection, the generator behind schedule) counts against the server too,
and the generator's own lag is reported so a saturated generator cannot pass unnoticed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from loadbench.http import HttpError, HttpPool, HttpResponse


@dataclass(frozen=True)
class Request:
    label: str  # the route, as reported
    data: bytes  # built by HttpPool.build
    expect: frozenset[int] = frozenset({200})
    # Called with the response of a request answered as expected (e.g. to record a vote).
    on_response: Callable[[HttpResponse], None] | None = None


@dataclass
class Sample:
    label: str
    scheduled: float
    sent: float
    done: float
    status: int  # 0 when no response came
    error: str | None  # None when the status was expected


@dataclass
class PhaseResult:
    name: str
    offered_rate: float | None
    duration: float  # the schedule's span
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0  # from the first scheduled time to the last response
    cpu_seconds: float = 0.0  # this (generator) process's CPU time during the phase

    def labels(self) -> list[str]:
        return sorted({sample.label for sample in self.samples})


def constant_rate(rate: float, duration: float, max_requests: int) -> list[float]:
    """Send times (seconds from start) at a fixed interval: `rate` per second for `duration`."""
    count = min(max_requests, max(1, math.floor(rate * duration)))
    return [index / rate for index in range(count)]


async def run_schedule(
    pool: HttpPool,
    name: str,
    schedule: Iterable[tuple[float, Request]],
    *,
    offered_rate: float | None = None,
    request_timeout: float = 10.0,
) -> PhaseResult:
    """Send each request at its offset (seconds from now), sorted by offset; wait for all."""
    loop = asyncio.get_running_loop()
    items = sorted(schedule, key=lambda item: item[0])
    result = PhaseResult(name, offered_rate, items[-1][0] if items else 0.0)
    cpu_started = time.process_time()
    # perf_counter, not loop.time(): uvloop's clock has millisecond resolution.
    clock = time.perf_counter
    start = clock() + 0.02
    pending: set[asyncio.Task[None]] = set()

    async def one(request: Request, scheduled: float) -> None:
        sent = clock()
        status, error = 0, None
        try:
            response = await pool.send(request.data, request_timeout)
            status = response.status
            if status not in request.expect:
                error = f"http {status}"
            elif request.on_response is not None:
                request.on_response(response)
        except TimeoutError:
            error = "timeout"
        except HttpError as exc:
            error = str(exc).split(":")[0]
        result.samples.append(Sample(request.label, scheduled, sent, clock(), status, error))

    for offset, request in items:
        scheduled = start + offset
        delay = scheduled - clock()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = loop.create_task(one(request, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending, timeout=request_timeout + 5)
    for task in pending:
        task.cancel()
    result.cpu_seconds = time.process_time() - cpu_started
    last = max((sample.done for sample in result.samples), default=start)
    result.wall = max(last - start, 1e-9)
    return result


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted `values` (0 for none)."""
    if not values:
        return 0.0
    rank = max(0, math.ceil(fraction * len(values)) - 1)
    return values[rank]


@dataclass(frozen=True)
class RouteStats:
    label: str
    count: int
    ok: int
    errors: dict[str, int]
    achieved_rate: float  # successful responses per second of the phase
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    lag_p99_ms: float  # how late the generator sent (scheduled → sent)

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def route_stats(result: PhaseResult, label: str | None = None) -> RouteStats:
    """Stats of one route (or, with None, of every request) of a phase."""
    samples = [s for s in result.samples if label is None or s.label == label]
    latencies = sorted((s.done - s.scheduled) * 1000 for s in samples if s.error is None)
    lags = sorted((s.sent - s.scheduled) * 1000 for s in samples)
    errors: dict[str, int] = {}
    for sample in samples:
        if sample.error is not None:
            errors[sample.error] = errors.get(sample.error, 0) + 1
    return RouteStats(
        label=label or "all",
        count=len(samples),
        ok=len(latencies),
        errors=errors,
        achieved_rate=len(latencies) / result.wall,
        p50_ms=percentile(latencies, 0.50),
        p90_ms=percentile(latencies, 0.90),
        p99_ms=percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else 0.0,
        lag_p99_ms=percentile(lags, 0.99),
    )
