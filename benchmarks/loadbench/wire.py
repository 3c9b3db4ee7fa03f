"""Issue #12's costs and savings: bytes on the wire, the encoders' CPU, and the server's CPU.

- `wire_sizes`: each list (and, for contrast, the small pages) fetched with no Accept-Encoding
  and with gzip, br, zstd and what browsers send ("gzip, br, zstd"); the body bytes as they came
  over the socket (the Content-Length of the compressed body), the header bytes, and the body
  decoded again to check it is the same JSON.
- `encoder_timings`: the middleware's own one-shot encoders (CompressMiddleware built with the
  arguments `create_app()` gives it, so its levels) timed in this process on those bodies.
- `server_cpu`: a fixed-rate step per variant, with the CPU time (user + system, from
  /proc/<pid>/stat) of every process of the server (the supervisor and its workers) and of the
  PostgreSQL backends serving its database, before and after, less what they burn idle over the
  same time: CPU milliseconds per request, what compression or a 304 costs or saves, whatever
  else the machine is doing (load from neighbours moves throughput far more than CPU time).
  Linux's clock ticks are 10 ms: a step of a few hundred requests resolves a few hundredths of
  a millisecond per request.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from loadbench.http import HttpPool, HttpResponse
from loadbench.loadgen import Request, constant_rate, route_stats, run_schedule
from loadbench.steal import cpu_counters, steal_share
from loadbench.workload import (
    BROWSER_ENCODINGS,
    Workload,
    admin_leaderboard_label,
    leaderboard_label,
    projects_label,
)

# The rows of the bytes table: None sends no Accept-Encoding (what the other routes send).
ENCODINGS: tuple[str | None, ...] = (None, "gzip", "br", "zstd", BROWSER_ENCODINGS)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def encoding_name(encoding: str | None) -> str:
    return "identity (none accepted)" if encoding is None else encoding


# brotli, zstandard and starlette-compress are imported where used: the CPU steps also run
# against versions of the API from before #12 (its benchmark's "before"), without them.


def decode(body: bytes, content_encoding: str | None) -> bytes:
    import brotli  # type: ignore[import-untyped]
    import zstandard

    if content_encoding in (None, "identity"):
        return body
    if content_encoding == "gzip":
        return gzip.decompress(body)
    if content_encoding == "br":
        return bytes(brotli.decompress(body))
    if content_encoding == "zstd":
        # The middleware's one-shot frames carry their size; its streaming ones may not.
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unknown Content-Encoding {content_encoding!r}")


# What each list of the bytes table is: a label and, per encoding, the requests to average.
ListRequests = Callable[[str | None], list[Request]]


def list_requests(workload: Workload) -> dict[str, ListRequests]:
    big, small = workload.big, workload.small[:5]
    attendee = big.attendee_emails[0]
    size, small_size = len(big.project_seqs), len(small[0].project_seqs)
    return {
        projects_label(small_size): lambda enc: [
            workload.projects(event, event.attendee_emails[0], encoding=enc) for event in small
        ],
        projects_label(size): lambda enc: [workload.projects(big, attendee, encoding=enc)] * 3,
        leaderboard_label(size): lambda enc: [
            workload.projects(big, attendee, ranked=True, encoding=enc)
        ],
        admin_leaderboard_label(size): lambda enc: [workload.admin_leaderboard(big, encoding=enc)],
        "GET /events/{id}": lambda enc: [_with_encoding(workload.event_page(big), enc)],
        "GET /projects/{id}": lambda enc: [
            _with_encoding(workload.project_page(big.project_seqs[0]), enc)
        ],
    }


def _with_encoding(request: Request, encoding: str | None) -> Request:
    if encoding is None:
        return request
    head, _, body = request.data.partition(b"\r\n\r\n")
    data = head + f"\r\nAccept-Encoding: {encoding}".encode() + b"\r\n\r\n" + body
    return Request(request.label, data, request.expect)


async def _fetch(pool: HttpPool, request: Request) -> HttpResponse:
    response = await pool.send(request.data, 30.0)
    if response.status != 200:
        raise SystemExit(f"{request.label} answered {response.status}: {response.body[:300]!r}")
    return response


async def wire_sizes(
    pool: HttpPool, workload: Workload
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Per list and encoding: mean body bytes as sent, header bytes, decoded bytes, the ratio;
    and one identity body per list (for the encoder timings)."""
    rows = []
    bodies: dict[str, bytes] = {}
    for name, build in list_requests(workload).items():
        identity_bytes = 0.0
        for encoding in ENCODINGS:
            sent, heads, decoded, used = [], [], [], set()
            for request in build(encoding):
                response = await _fetch(pool, request)
                content_encoding = response.header("Content-Encoding")
                plain = decode(response.body, content_encoding)
                orjson.loads(plain)  # the same JSON, whatever the encoding
                sent.append(len(response.body))
                heads.append(len(response.head) + 4)
                decoded.append(len(plain))
                used.add(content_encoding or "identity")
                if encoding is None:
                    bodies.setdefault(name, plain)
            body_bytes = statistics.fmean(sent)
            if encoding is None:
                identity_bytes = body_bytes
            rows.append(
                {
                    "list": name,
                    "accept_encoding": encoding,
                    "content_encoding": ",".join(sorted(used)),
                    "body_bytes": body_bytes,
                    "head_bytes": statistics.fmean(heads),
                    "decoded_bytes": statistics.fmean(decoded),
                    "ratio": body_bytes / identity_bytes if identity_bytes else 1.0,
                    "requests": len(sent),
                }
            )
        if name in revalidated_lists(len(workload.big.project_seqs)):
            rows.append(await _revalidation_size(pool, build, name, identity_bytes))
    return rows, bodies


def revalidated_lists(size: int) -> tuple[str, ...]:
    """The lists whose 304 the bytes table shows (the leaderboards organisers and results pages
    poll), for a big event of `size` projects."""
    return (leaderboard_label(size), admin_leaderboard_label(size))


async def _revalidation_size(
    pool: HttpPool, build: ListRequests, name: str, identity_bytes: float
) -> dict[str, Any]:
    """The list revalidated as a browser does: its ETag in If-None-Match, answered 304."""
    first = await _fetch(pool, build(BROWSER_ENCODINGS)[0])
    etag = first.header("ETag")
    if etag is None:
        raise SystemExit(f"{name} sent no ETag")
    request = build(BROWSER_ENCODINGS)[0]
    head, _, body = request.data.partition(b"\r\n\r\n")
    data = head + f"\r\nIf-None-Match: {etag}".encode() + b"\r\n\r\n" + body
    response = await pool.send(data, 30.0)
    if response.status != 304:
        raise SystemExit(f"{name} with If-None-Match answered {response.status}")
    return {
        "list": name,
        "accept_encoding": f"{BROWSER_ENCODINGS} + If-None-Match",
        "content_encoding": "304",
        "body_bytes": float(len(response.body)),
        "head_bytes": float(len(response.head) + 4),
        "decoded_bytes": 0.0,
        "ratio": len(response.body) / identity_bytes if identity_bytes else 0.0,
        "requests": 1,
    }


def middleware_encoders() -> tuple[dict[str, Callable[[bytes], bytes]], dict[str, Any]]:
    """The one-shot encoders of CompressMiddleware as `create_app()` configures it, and its
    settings (levels, minimum size)."""
    from pydantic import SecretStr
    from starlette_compress import CompressMiddleware

    from podium.app import create_app
    from podium.config import Environment, Settings
    from podium.http.middleware import BrowserEdge

    # Built, never started: no database, no codec configured (that happens in its lifespan).
    settings = Settings(
        env=Environment.DEVELOPMENT,
        database_url="postgresql://bench@127.0.0.1/unused",
        jwt_secret=SecretStr("bench-" + "x" * 32),
    )
    app = create_app(settings)
    # The compressor is built inside the browser layer (podium.http.middleware.BrowserEdge)
    # from its keyword arguments, all but `origins`.
    edge = next(m for m in app.user_middleware if m.cls == BrowserEdge)  # type: ignore[comparison-overlap]
    declared = {name: value for name, value in edge.kwargs.items() if name != "origins"}
    levels = {
        name: parameter.default
        for name, parameter in inspect.signature(CompressMiddleware.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    levels.update(declared)
    middleware = CompressMiddleware(None, **declared)  # type: ignore[arg-type]
    # The responders' `oneshot` is what the middleware runs on a whole (non-streamed) body.
    encoders = {
        responder.encoding: responder.oneshot
        for responder in (middleware._zstd, middleware._brotli, middleware._gzip)
        if responder is not None
    }
    return encoders, levels


def alternative_encoders(settings: dict[str, Any]) -> dict[str, Callable[[bytes], bytes]]:
    """Levels 3-6 around the middleware's, for comparison only (not what the middleware runs):
    what a smaller body would cost. The middleware's own levels are left out."""
    import brotli
    import zstandard

    def zstd(level: int) -> Callable[[bytes], bytes]:
        return lambda body: zstandard.ZstdCompressor(level=level).compress(body)

    def br(quality: int) -> Callable[[bytes], bytes]:
        return lambda body: bytes(brotli.compress(body, quality=quality))

    def gz(level: int) -> Callable[[bytes], bytes]:
        return lambda body: gzip.compress(body, compresslevel=level)

    candidates = [
        *((f"zstd level {n}", "zstd_level", n, zstd(n)) for n in (3, 4, 6)),
        *((f"br quality {n}", "brotli_quality", n, br(n)) for n in (4, 5, 6)),
        *((f"gzip level {n}", "gzip_level", n, gz(n)) for n in (4, 5, 6)),
    ]
    return {label: encode for label, name, n, encode in candidates if settings.get(name) != n}


def encoder_timings(bodies: dict[str, bytes], repetitions: int) -> dict[str, Any]:
    """Each encoder on each body, in this process, one call at a time: median and best ms.

    The middleware's encoders first (`middleware: True`), then ALTERNATIVE_ENCODERS on the
    public lists (`alternative_encoders`)."""
    encoders, settings = middleware_encoders()
    rows = []
    for name, body in bodies.items():
        if len(body) < settings["minimum_size"]:
            continue
        candidates = [(encoding, encode, True) for encoding, encode in encoders.items()]
        if "admin" not in name and "leaderboard" not in name:
            alternatives = alternative_encoders(settings).items()
            candidates += [(label, encode, False) for label, encode in alternatives]
        for encoding, encode, middleware in candidates:
            encode(body)  # warm up (allocations, tables)
            timings = []
            size = 0
            for _ in range(repetitions):
                started = time.process_time()
                size = len(encode(body))
                timings.append((time.process_time() - started) * 1000)
            wall = []
            for _ in range(repetitions):
                started = time.perf_counter()
                encode(body)
                wall.append((time.perf_counter() - started) * 1000)
            rows.append(
                {
                    "list": name,
                    "encoding": encoding,
                    "middleware": middleware,
                    "input_bytes": len(body),
                    "output_bytes": size,
                    "cpu_ms_median": statistics.median(timings),
                    "wall_ms_median": statistics.median(wall),
                    "wall_ms_best": min(wall),
                }
            )
    levels = {k: v for k, v in settings.items() if k.endswith(("_level", "_quality", "_size"))}
    return {"settings": levels, "rows": rows}


def field_shares(body: bytes) -> dict[str, Any]:
    """What the compressed bytes of a list are made of: the list compressed (zstd, the
    middleware's level 4) with each field's values emptied in turn; a field's share is the
    compressed bytes that emptying it saves, over the list's compressed size."""
    import zstandard

    def packed(items: list[dict[str, Any]]) -> int:
        return len(zstandard.ZstdCompressor(level=4).compress(orjson.dumps(items)))

    items = orjson.loads(body)
    whole = packed(items)
    shares = {}
    for key in items[0] if items else []:
        emptied = [{**item, key: None} for item in items]
        shares[key] = (whole - packed(emptied)) / whole
    return {"compressed_bytes": whole, "raw_bytes": len(body), "shares": shares}


# Server CPU per request ------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (the supervisor and its workers)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        try:
            tasks = Path(f"/proc/{pid}/task").iterdir()
            for task in tasks:
                children = (task / "children").read_text().split()
                queue.extend(int(child) for child in children)
        except OSError:
            continue
    return found


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds of each process (fields 14 and 15 of /proc/<pid>/stat)."""
    times = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        times[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return times


@dataclass(frozen=True)
class CpuVariant:
    name: str  # e.g. "GET /events/{id}/projects [1000]"
    variant: str  # e.g. "zstd", "304"
    rate: float
    requests: Callable[[], Request]


class CpuMeter:
    """CPU seconds of the server's processes and of its database's PostgreSQL backends.

    The backends are those connected to the benchmark's database (pg_stat_activity), listed
    again at each reading's start: the server's pools, which the warm-up has filled. Work the
    database does outside them (the WAL writer, autovacuum) is not counted.
    """

    def __init__(self, server_pid: int, conn: asyncpg.Connection | None) -> None:
        self.server_pid = server_pid
        self.conn = conn

    async def _backends(self) -> list[int]:
        if self.conn is None:
            return []
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]

    async def start(self) -> Callable[[], tuple[float, float]]:
        """Read now; the returned function gives (server, database) seconds since then."""
        server_pids = process_tree(self.server_pid)
        database_pids = await self._backends()
        server_before = cpu_seconds(server_pids)
        database_before = cpu_seconds(database_pids)

        def since() -> tuple[float, float]:
            server_after = cpu_seconds(server_pids)
            database_after = cpu_seconds(database_pids)
            return (
                sum(
                    v - server_before[pid]
                    for pid, v in server_after.items()
                    if pid in server_before
                ),
                sum(
                    v - database_before[pid]
                    for pid, v in database_after.items()
                    if pid in database_before
                ),
            )

        return since


async def server_cpu(
    pool: HttpPool, meter: CpuMeter, variants: Sequence[CpuVariant], seconds: float, rounds: int
) -> dict[str, Any]:
    """Each variant at its fixed rate for `seconds`, `rounds` times interleaved (after one
    short round to warm up, not counted): the server's and the database's CPU milliseconds per
    answered request, net of what they burn idle over the same time."""
    for variant in variants:
        warm = [(at, variant.requests()) for at in constant_rate(variant.rate, 1.0, 1000)]
        await run_schedule(pool, "warm-up", warm, offered_rate=variant.rate)
    since = await meter.start()
    started = time.perf_counter()
    await asyncio.sleep(max(2.0, seconds))
    idle_server, idle_database = (used / (time.perf_counter() - started) for used in since())
    measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for variant in variants:
            schedule = [
                (at, variant.requests()) for at in constant_rate(variant.rate, seconds, 100_000)
            ]
            load_before = os.getloadavg()[0]
            since = await meter.start()
            counters = cpu_counters()
            phase = await run_schedule(
                pool, f"{variant.name} {variant.variant}", schedule, offered_rate=variant.rate
            )
            server, database = since()
            steal = steal_share(counters, cpu_counters())
            stats = route_stats(phase)
            ok = max(stats.ok, 1)
            measured.setdefault((variant.name, variant.variant), []).append(
                {
                    "server_ms": (server - idle_server * phase.wall) / ok * 1000,
                    "database_ms": (database - idle_database * phase.wall) / ok * 1000,
                    "server_gross_ms": server / ok * 1000,
                    "ok": stats.ok,
                    "errors": stats.count - stats.ok,
                    "p50_ms": stats.p50_ms,
                    "load_average": load_before,
                    "steal": steal,
                }
            )
            await asyncio.sleep(0.2)
    rows = []
    for variant in variants:
        runs = measured[(variant.name, variant.variant)]
        rows.append(
            {
                "list": variant.name,
                "variant": variant.variant,
                "rate": variant.rate,
                "server_cpu_ms_per_request": statistics.fmean(run["server_ms"] for run in runs),
                "database_cpu_ms_per_request": statistics.fmean(run["database_ms"] for run in runs),
                "gross_server_cpu_ms_per_request": statistics.fmean(
                    run["server_gross_ms"] for run in runs
                ),
                "per_round_ms": [run["server_ms"] for run in runs],
                "p50_ms": statistics.median(run["p50_ms"] for run in runs),
                "errors": sum(run["errors"] for run in runs),
                "requests": sum(run["ok"] for run in runs),
                "load_average": [run["load_average"] for run in runs],
                "cpu_steal_share": [run["steal"] for run in runs],
            }
        )
    return {
        "idle_server_cores_busy": idle_server,
        "idle_database_cores_busy": idle_database,
        "seconds": seconds,
        "rounds": rounds,
        "rows": rows,
    }
