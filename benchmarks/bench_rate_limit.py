"""What one rate-limit check costs: `uv run python benchmarks/bench_rate_limit.py`.

The vote's limit is one statement (`queries.rate_limits.take`, the GCRA upsert on the unlogged
`rate_limits` table) on the vote's own connection before BEGIN. The load benchmark's CPU steps
cannot resolve it (their rounds wander by ±10 % on a shared VM, the vote costs ~6 ms), so this
measures the statement alone: `--checks` admitted checks for `--keys` voters in turn, on the
app's `Database`, with the CPU time of this process (the client side: asyncpg, the service
code) and of the PostgreSQL backend serving it (`/proc/<pid>/stat`, so the server must be on
this machine), each per check; the same for `SELECT 1` as the cost of any round trip. A fresh
database is created on DATABASE_URL's server (an embedded PostgreSQL without it), migrated, and
dropped.
Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench.database import fresh_database

from podium.db import Database
from podium.queries import rate_limits as rate_limit_rows
from podium.rate_limit import RateLimit
from podium.services.rate_limits import Bucket, user_key

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def per_call(
    database: Database, calls: int, call: Callable[[int], Awaitable[object]]
) -> tuple[float, float, float]:
    """(wall µs, client CPU µs, backend CPU µs) per call, `calls` calls one after another."""
    for n in range(min(calls, 200)):  # warm-up: prepared statements, the table's pages
        await call(n)
    # asyncpg replaces a pool's connection after 50,000 queries (`max_queries`): a round that
    # crossed that point read another backend's CPU, so it is run again.
    for _ in range(3):
        pid = await database.fetchval("SELECT pg_backend_pid()")
        wall, client, backend = time.perf_counter(), time.process_time(), backend_cpu_seconds(pid)
        for n in range(calls):
            await call(n)
        wall, client = time.perf_counter() - wall, time.process_time() - client
        if await database.fetchval("SELECT pg_backend_pid()") == pid:
            backend = backend_cpu_seconds(pid) - backend
            return wall / calls * 1e6, client / calls * 1e6, backend / calls * 1e6
    raise RuntimeError("the pool kept replacing its connection")


async def measure(url: str, checks: int, keys: int, rounds: int) -> None:
    # One connection, so the backend whose CPU is read is the one serving every call.
    database = Database(url, size=1)
    await database.open()
    try:
        limit = RateLimit(30, 60)  # the vote's default, 30/1m
        # A budget no voter reaches: every check is admitted, as almost every real vote's is.
        interval, tolerance = limit.interval / 1e6, limit.seconds
        voters = [user_key(Bucket.VOTES, uuid.uuid4()) for _ in range(keys)]

        async def check(n: int) -> object:
            wait = await rate_limit_rows.take(database, voters[n % keys], interval, tolerance)
            assert wait is None, "a check was refused: the figures would be of the other path"
            return wait

        async def round_trip(n: int) -> object:
            return await database.fetchval("SELECT 1")

        print(
            f"{checks} checks per round for {keys} voters in turn, one connection, {rounds} rounds"
        )
        for label, call in (("SELECT 1 (a round trip)", round_trip), ("rate-limit check", check)):
            figures = [await per_call(database, checks, call) for _ in range(rounds)]
            for wall, client, backend in figures:
                print(
                    f"  {label:24} {wall:6.0f} µs wall   client CPU {client:5.0f} µs   "
                    f"backend CPU {backend:5.0f} µs   together {client + backend:5.0f} µs"
                )
    finally:
        await database.close()


async def main(checks: int, keys: int, rounds: int) -> None:
    # A database of its own on DATABASE_URL's server, or on an embedded one: either is on this
    # machine, as reading the backend's /proc entry needs.
    async with fresh_database(os.environ.get("DATABASE_URL"), keep=False) as database:
        print(f"PostgreSQL {database.server_version} ({database.where})")
        await measure(database.url, checks, keys, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=20_000, help="checks per round")
    parser.add_argument("--keys", type=int, default=600, help="distinct voters")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.checks, arguments.keys, arguments.rounds))
