"""The Airtable backfill end to end: `uv run python benchmarks/bench_backfill.py [--records N]`.

Serves a generated v1 base (50,000 records by default, with mess) from the fake Airtable in a
separate process, migrates it into a fresh database, and prints:

- throttled: the fake limits to 5 requests/s per base (Airtable's rule, with its 30 s penalty
  after a 429); the wall time against the rate-limit floor (pages ÷ 5 s). Writes overlap reads,
  so the goal is within 15 % of the floor.
- unthrottled: the fake answers as fast as it can; records migrated per second end to end, and
  rows written per second while writing (goal ≥ 10,000/s).

The database is DATABASE_URL's server when set (a scratch database is created on it and dropped),
else an embedded PostgreSQL in a temporary directory. It prints figures only: timing goals do not
belong in unit tests.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from podium import migrate
from podium.backfill.airtable import AirtableSource, SourceConfig
from podium.backfill.pipeline import Backfill, Result
from podium.database_url import plain_url, sqlalchemy_url
from podium_devtools.airtable_base import generate_base

FLOOR_TOLERANCE = 0.15
WRITE_GOAL = 10_000
TABLES = ("users", "events", "projects", "votes", "referrals")


@contextmanager
def postgres_server() -> Iterator[str]:
    """A postgresql:// URL of a maintenance database on some server."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield plain_url(given)
        return
    from podium.dev import embedded

    server = embedded.start(
        Path(tempfile.mkdtemp(prefix="podium-bench-")) / "pgdata", delete_on_stop=True
    )
    try:
        yield server.url("postgres")
    finally:
        server.stop()


@contextmanager
def fake_airtable(records: int, seed: int, rate_limit: float) -> Iterator[dict[str, str]]:
    """The fake in its own process (so it does not share the interpreter lock with the backfill)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podium_devtools.fake_airtable",
            "--records",
            str(records),
            "--seed",
            str(seed),
            "--port",
            "0",
            "--rate-limit",
            str(rate_limit),
            "--penalty",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    environment: dict[str, str] = {}
    try:
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                environment[name] = value
            if line.startswith("# Ctrl-C"):
                break
        if "AIRTABLE_API_URL" not in environment:
            raise RuntimeError("the fake Airtable did not start")
        yield environment
    finally:
        process.terminate()
        process.wait(timeout=10)


async def fresh_database(server_url: str) -> tuple[str, str]:
    name = f"podium_bench_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(migrate.upgrade, sqlalchemy_url(url))
    return name, url


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_once(environment: dict[str, str], url: str, requests_per_second: float) -> Result:
    source = AirtableSource(
        SourceConfig(
            token=environment["AIRTABLE_TOKEN"],
            base_id=environment["AIRTABLE_BASE_ID"],
            api_url=environment["AIRTABLE_API_URL"],
            tables={table: table for table in TABLES},
            requests_per_second=requests_per_second,
        )
    )
    try:
        return await Backfill(source, url).run()
    finally:
        source.close()


def rows_written(result: Result) -> int:
    return sum(counts["inserted"] + counts["updated"] for counts in result.counts.values())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-throttled", action="store_true")
    parser.add_argument("--skip-unthrottled", action="store_true")
    arguments = parser.parse_args()

    base = generate_base(arguments.records, seed=arguments.seed)
    pages = sum(math.ceil(len(records) / 100) for records in base.tables.values())
    counts = ", ".join(f"{name} {len(records):,}" for name, records in base.tables.items())
    print(f"base: {base.record_count:,} records ({counts}); {pages} pages of 100")

    with postgres_server() as server_url:
        if not arguments.skip_unthrottled:
            name, url = await fresh_database(server_url)
            try:
                with fake_airtable(arguments.records, arguments.seed, 0) as environment:
                    result = await migrate_once(environment, url, requests_per_second=100_000)
                    second = await migrate_once(environment, url, requests_per_second=100_000)
            finally:
                await drop_database(server_url, name)
            writing = sum(stage["write"] for stage in result.timings.values())
            planning = sum(stage["plan"] for stage in result.timings.values())
            written = rows_written(result)
            print("\nunthrottled fake")
            print(
                f"  wall time            {result.seconds:8.2f} s  ({result.read_stats['requests']} requests)"
            )
            print(f"  end to end           {base.record_count / result.seconds:8,.0f} records/s")
            print(f"  planning (CPU)       {planning:8.2f} s")
            print(
                f"  writing              {writing:8.2f} s  {written:,} rows: "
                f"{written / writing:,.0f} rows/s  (goal ≥ {WRITE_GOAL:,}/s: "
                f"{'ok' if written / writing >= WRITE_GOAL else 'UNDER GOAL'})"
            )
            print(
                f"  second run           {second.seconds:8.2f} s  ({rows_written(second)} rows written)"
            )
            for stage, timing in result.timings.items():
                print(
                    f"    {stage:<10} planned in {timing['plan']:5.2f} s, "
                    f"written in {timing['write']:5.2f} s"
                )

        if not arguments.skip_throttled:
            name, url = await fresh_database(server_url)
            try:
                with fake_airtable(arguments.records, arguments.seed, 5) as environment:
                    started = time.monotonic()
                    result = await migrate_once(environment, url, requests_per_second=5)
                    wall = time.monotonic() - started
            finally:
                await drop_database(server_url, name)
            requests = result.read_stats["requests"]
            floor = pages / 5
            over = wall / floor - 1
            last = list(result.timings)[-1]
            tail = result.timings[last]["plan"] + result.timings[last]["write"]
            print("\nthrottled fake: 5 requests/s per base, 30 s penalty after a 429")
            print(
                f"  requests             {requests:8d}  ({result.read_stats['rate_limited']} answered 429)"
            )
            print(f"  rate-limit floor     {floor:8.2f} s  ({pages} pages ÷ 5/s)")
            print(
                f"  wall time            {wall:8.2f} s  ({over:+.1%} over the floor; goal ≤ "
                f"{FLOOR_TOLERANCE:.0%}: {'ok' if over <= FLOOR_TOLERANCE else 'OVER GOAL'})"
            )
            print(
                f"  not overlapped       {tail:8.2f} s  (planning + writing the last table, {last})"
            )


if __name__ == "__main__":
    asyncio.run(main())
