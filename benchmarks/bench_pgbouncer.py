"""What `PODIUM_DATABASE_PGBOUNCER=transaction` costs: `uv run python benchmarks/bench_pgbouncer.py`.

A one-row read by key (what most of the app's statements are; a catalog table, so any database
will do), run `--statements` times one after another, then by `--clients` concurrent callers, on the
app's `Database` three ways: straight to PostgreSQL with asyncpg's named, cached statements (the
default); straight to PostgreSQL with unnamed statements (`transaction`); through Debian's
PgBouncer in transaction pooling with unnamed statements. Prints the time per statement and
statements per second. The server is DATABASE_URL's (default: 127.0.0.1:5432); it needs
Debian's `pgbouncer`. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from sqlalchemy.engine import make_url

from podium.config import PgBouncerMode
from podium.db import Database
from podium_devtools.pgbouncer import PgBouncer

STATEMENT = "SELECT oid, relname, relkind FROM pg_class WHERE oid = $1"


async def measure(database: Database, statements: int, clients: int) -> tuple[float, float]:
    """(median µs per statement, one caller; statements/s with `clients` callers)."""
    await database.open()
    try:
        await database.fetchrow(STATEMENT, 1)  # open a connection, prepare once
        samples = []
        for n in range(statements):
            started = time.perf_counter()
            await database.fetchrow(STATEMENT, 1259 + n % 50)
            samples.append(time.perf_counter() - started)

        async def caller() -> None:
            for n in range(statements // clients):
                await database.fetchrow(STATEMENT, 1259 + n % 50)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(clients)))
        rate = (statements // clients) * clients / (time.perf_counter() - started)
        return statistics.median(samples) * 1e6, rate
    finally:
        await database.close()


async def main(statements: int, clients: int, pool_size: int) -> None:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    server = make_url(url).set(drivername="postgresql")
    plain = server.render_as_string(hide_password=False)
    with PgBouncer.start(
        server.set(database="postgres").render_as_string(hide_password=False), pool_size=pool_size
    ) as bouncer:
        through = bouncer.url(server.database or "postgres", server.username or "postgres")
        ways = [
            ("PostgreSQL, named statements (off)", plain, PgBouncerMode.OFF),
            ("PostgreSQL, unnamed statements (transaction)", plain, PgBouncerMode.TRANSACTION),
            (
                "PgBouncer 1.18, unnamed statements (transaction)",
                through,
                PgBouncerMode.TRANSACTION,
            ),
        ]
        print(
            f"{statements} statements; {clients} concurrent callers on a pool of {clients}; "
            f"PgBouncer with {pool_size} server connections"
        )
        for label, target, mode in ways:
            database = Database(target, size=clients, pgbouncer=mode)
            median, rate = await measure(database, statements, clients)
            print(f"  {label:52} {median:7.0f} µs per statement, {rate:7.0f} statements/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--pool-size", type=int, default=5, help="PgBouncer's server connections")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.statements, arguments.clients, arguments.pool_size))
