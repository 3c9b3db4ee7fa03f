"""PostgreSQL side of the backfill, with asyncpg: loading what exists and writing in batches.

Every write is a set-based statement over arrays (`INSERT ... SELECT FROM unnest(...)`), so a
batch of thousands of rows is one round trip. Upserts are keyed on `airtable_id` (join tables
on their pair) and only touch rows whose values really differ, so a re-run writes nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from podium.backfill.plan import Existing, Pair, QuarantineEntry, Row
from podium.backfill.tables import JOIN_TABLES, RECORD_TABLES, RecordTable, record_table
from podium.database_url import plain_url
from podium.models.quarantine import BackfillQuarantine
from podium.queries import trash as trash_rows

LOCK_KEY = "podium.backfill"
# The quarantine's columns from its model, less those the database fills in (`id` from its
# default, `created_at`, and `updated_at` by the trigger); a QuarantineEntry holds the rest
# (tests/backfill/test_columns.py checks the two agree).
QUARANTINE = record_table(
    BackfillQuarantine.ormar_config.table, not_written=("id", "created_at", "updated_at")
)
QUARANTINE_COLUMNS = QUARANTINE.columns
QUARANTINE_KEY = ("source_table", "record_id", "rule")


class AnotherBackfillRunning(RuntimeError):
    """Another backfill process holds the lock on this database."""


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(plain_url(url))
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    return conn


async def lock(conn: asyncpg.Connection, wait: float = 10.0) -> None:
    """One backfill at a time per database (held until the connection closes).

    Waits a little: the session of a backfill that was just killed holds the lock until
    PostgreSQL notices the dead connection.
    """
    deadline = time.monotonic() + wait
    while not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK_KEY):
        if time.monotonic() > deadline:
            raise AnotherBackfillRunning("another backfill is running against this database")
        await asyncio.sleep(0.25)


# -- reading -------------------------------------------------------------------------------


def _normalise(value: Any) -> Any:
    # asyncpg's UUID subclass compares equal to uuid.UUID but hashes and prints the same too;
    # converting keeps planned and loaded rows indistinguishable.
    return uuid.UUID(bytes=value.bytes) if isinstance(value, uuid.UUID) else value


async def load_existing(conn: asyncpg.Connection) -> Existing:
    existing = Existing()
    for table in RECORD_TABLES.values():
        columns = ", ".join(("id", *table.column_names))
        rows = existing.rows.setdefault(table.name, {})
        native = existing.native.setdefault(table.name, [])
        for record in await conn.fetch(f"SELECT {columns} FROM {table.name}"):
            row = {key: _normalise(value) for key, value in record.items()}
            if row["airtable_id"] is None:
                native.append(row)
            else:
                rows[row["airtable_id"]] = row
    for join in JOIN_TABLES.values():
        existing.pairs[join.name] = {
            (_normalise(record[0]), _normalise(record[1]))
            for record in await conn.fetch(f"SELECT {join.parent}, {join.child} FROM {join.name}")
        }
    names = ", ".join(QUARANTINE.column_names)
    for record in await conn.fetch(f"SELECT {names} FROM backfill_quarantine"):
        entry = QuarantineEntry(**dict(record.items()))
        existing.quarantine[entry.key] = entry
    existing.trashed = await trash_rows.trashed_record_ids(conn)
    return existing


# -- writing -------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _select_unnest(columns: Sequence[tuple[str, str]]) -> str:
    """`SELECT ... FROM unnest($1::type[], ...)`; jsonb travels as text (asyncpg would read a
    list value as a nested array) and is cast back."""
    arrays = ", ".join(
        f"${number}::{'text' if kind == 'jsonb' else kind}[]"
        for number, (_, kind) in enumerate(columns, start=1)
    )
    names = [name for name, _ in columns]
    selected = ", ".join(
        f"u.{name}::jsonb" if kind == "jsonb" else f"u.{name}" for name, kind in columns
    )
    return f"SELECT {selected} FROM unnest({arrays}) AS u({', '.join(names)})"


def _array(values: Sequence[Any], kind: str) -> list[Any]:
    if kind == "jsonb":
        return [None if value is None else json.dumps(value) for value in values]
    return list(values)


def upsert_sql(table: RecordTable) -> str:
    columns = (("id", "uuid"), *table.columns)
    names = [name for name, _ in columns]
    updated = [name for name in table.column_names if name != "airtable_id"]
    return (
        f"INSERT INTO {table.name} AS t ({', '.join(names)}) "
        f"{_select_unnest(columns)} "
        f"ON CONFLICT (airtable_id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in updated)
        + f" WHERE ({', '.join('t.' + name for name in updated)}) IS DISTINCT FROM "
        f"({', '.join('excluded.' + name for name in updated)})"
    )


async def upsert_rows(
    conn: asyncpg.Connection, table: RecordTable, rows: Sequence[Row], batch_size: int
) -> int:
    """Insert or update `rows` (only those that differ are touched); return how many were."""
    sql = upsert_sql(table)
    columns_typed = (("id", "uuid"), *table.columns)
    written = 0
    for batch in _chunks(rows, batch_size):
        columns = [_array([row[name] for row in batch], kind) for name, kind in columns_typed]
        status = await conn.execute(sql, *columns)
        written += int(status.rsplit(" ", 1)[-1])
    return written


async def insert_pairs(
    conn: asyncpg.Connection, table: str, pairs: Sequence[Pair], batch_size: int
) -> int:
    join = JOIN_TABLES[table]
    sql = (
        f"INSERT INTO {join.name} ({join.parent}, {join.child}) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[]) "
        f"ON CONFLICT ({join.parent}, {join.child}) DO NOTHING"
    )
    inserted = 0
    for batch in _chunks(pairs, batch_size):
        status = await conn.execute(sql, [p[0] for p in batch], [p[1] for p in batch])
        inserted += int(status.rsplit(" ", 1)[-1])
    return inserted


async def delete_pairs(conn: asyncpg.Connection, table: str, pairs: Sequence[Pair]) -> int:
    join = JOIN_TABLES[table]
    deleted = await conn.fetch(
        f"DELETE FROM {join.name} WHERE ({join.parent}, {join.child}) IN "
        "(SELECT * FROM unnest($1::uuid[], $2::uuid[])) RETURNING 1",
        [pair[0] for pair in pairs],
        [pair[1] for pair in pairs],
    )
    return len(deleted)


# Owners are ON DELETE RESTRICT: a user who still owns an event or project stays.
_DELETE_GUARD = {
    "users": " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.owner_id = users.id)"
    " AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.owner_id = users.id)",
}


async def delete_rows(conn: asyncpg.Connection, table: str, record_ids: Sequence[str]) -> int:
    deleted = await conn.fetch(
        f"DELETE FROM {table} WHERE airtable_id = ANY($1::text[]){_DELETE_GUARD.get(table, '')} "
        "RETURNING 1",
        list(record_ids),
    )
    return len(deleted)


async def upsert_quarantine(
    conn: asyncpg.Connection, entries: Sequence[QuarantineEntry], batch_size: int
) -> None:
    names = list(QUARANTINE.column_names)
    updated = [name for name in names if name not in QUARANTINE_KEY]
    sql = (
        f"INSERT INTO backfill_quarantine AS q ({', '.join(names)}) "
        f"{_select_unnest(QUARANTINE_COLUMNS)} "
        f"ON CONFLICT ({', '.join(QUARANTINE_KEY)}) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in updated)
        + f" WHERE ({', '.join('q.' + name for name in updated)}) IS DISTINCT FROM "
        f"({', '.join('excluded.' + name for name in updated)})"
    )
    for batch in _chunks(entries, batch_size):
        rows = [entry.as_json() for entry in batch]
        keys = ["table" if name == "source_table" else name for name in names]
        kinds = [kind for _, kind in QUARANTINE_COLUMNS]
        await conn.execute(
            sql,
            *[
                _array([row[key] for row in rows], kind)
                for key, kind in zip(keys, kinds, strict=True)
            ],
        )


async def delete_quarantine(conn: asyncpg.Connection, keys: Sequence[tuple[str, str, str]]) -> None:
    if keys:
        await conn.execute(
            "DELETE FROM backfill_quarantine WHERE (source_table, record_id, rule) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))",
            [key[0] for key in keys],
            [key[1] for key in keys],
            [key[2] for key in keys],
        )


async def quarantine_entries(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {', '.join(QUARANTINE.column_names)} FROM backfill_quarantine "
        f"ORDER BY {', '.join(QUARANTINE_KEY)}"
    )
    return [
        {("table" if key == "source_table" else key): value for key, value in row.items()}
        for row in rows
    ]


# -- runs and checkpoints ------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    stage: str
    counts: dict[str, Any]
    carry: dict[str, Any]


@dataclass(frozen=True)
class RunRecord:
    id: uuid.UUID
    started_at: datetime
    checkpoints: dict[str, Checkpoint]


async def unfinished_run(conn: asyncpg.Connection, base_id: str) -> RunRecord | None:
    """The latest `run` against this base that did not finish (killed or failed)."""
    row = await conn.fetchrow(
        "SELECT id, status, started_at FROM backfill_runs WHERE kind = 'run' AND base_id = $1 "
        "ORDER BY started_at DESC LIMIT 1",
        base_id,
    )
    if row is None or row["status"] == "finished":
        return None
    checkpoints = {
        record["stage"]: Checkpoint(record["stage"], record["counts"], record["carry"])
        for record in await conn.fetch(
            "SELECT stage, counts, carry FROM backfill_checkpoints WHERE run_id = $1", row["id"]
        )
    }
    return RunRecord(_normalise(row["id"]), row["started_at"], checkpoints)


async def start_run(
    conn: asyncpg.Connection, kind: str, base_id: str, since: datetime | None = None
) -> RunRecord:
    row = await conn.fetchrow(
        "INSERT INTO backfill_runs (kind, status, base_id, since, started_at) "
        "VALUES ($1, 'running', $2, $3, clock_timestamp()) RETURNING id, started_at",
        kind,
        base_id,
        since,
    )
    assert row is not None
    return RunRecord(_normalise(row["id"]), row["started_at"], {})


async def mark_run(conn: asyncpg.Connection, run_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE backfill_runs SET status = $2 WHERE id = $1", run_id, status)


async def save_checkpoint(
    conn: asyncpg.Connection, run_id: uuid.UUID, checkpoint: Checkpoint
) -> None:
    await conn.execute(
        "INSERT INTO backfill_checkpoints (run_id, stage, counts, carry) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (run_id, stage) DO UPDATE SET counts = excluded.counts, carry = excluded.carry",
        run_id,
        checkpoint.stage,
        checkpoint.counts,
        checkpoint.carry,
    )


async def finish_run(
    conn: asyncpg.Connection, run_id: uuid.UUID, status: str, counts: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE backfill_runs SET status = $2, counts = $3, finished_at = clock_timestamp() "
        "WHERE id = $1",
        run_id,
        status,
        counts,
    )


async def last_run_start(conn: asyncpg.Connection, base_id: str) -> datetime | None:
    """When the last finished run or delta started: what `delta --since last` means."""
    value: datetime | None = await conn.fetchval(
        "SELECT max(started_at) FROM backfill_runs WHERE base_id = $1 AND status = 'finished'",
        base_id,
    )
    return value


async def last_read_counts(conn: asyncpg.Connection, base_id: str) -> dict[str, int]:
    """Records per v1 table in the last finished run: the progress bars' estimates."""
    counts = await conn.fetchval(
        "SELECT counts FROM backfill_runs WHERE base_id = $1 AND kind = 'run' "
        "AND status = 'finished' ORDER BY started_at DESC LIMIT 1",
        base_id,
    )
    if not counts:
        return {}
    return {stage: int(value) for stage, value in counts.get("read", {}).items()}
