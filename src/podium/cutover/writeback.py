"""Rollback without loss: write everything v2 created or changed since the cutover into v1's base.

    doppler run -- uv run --extra airtable python scripts/rollback_to_airtable.py \\
        --since 2026-03-01T02:00:00Z

One pass, in link order (users → events → projects → votes → referrals), then deletions in the
reverse order:
- rows without a v1 record are created in Airtable, 10 per request, and each batch's new record
  ids are stored in `airtable_id` at once (so the next run updates them instead);
- rows v2 changed (`updated_at` after `--since`) get the fields that differ from Airtable;
  link lists (event attendees, project collaborators) and points are compared on every record,
  as they change without a row's `updated_at` moving;
- records created before the cutover that no row claims any more were deleted in v2 and are
  deleted in Airtable, unless the backfill never migrated them (quarantined rejected/merged)
  or never saw them.

Idempotent and resumable by construction: every decision is made by comparing PostgreSQL with a
fresh listing of the base, so a re-run writes only what is still missing and a finished run
followed by another writes nothing. A crash between creating records and storing their ids
leaves orphans created after the cutover; the next run adopts them by natural key (see
`podium.cutover.plan`) instead of creating them twice. Reading and writing go through the
backfill's Airtable client: 5 requests/second, waits after a 429, retries 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from podium import timestamps
from podium.airtable_v1 import TABLES
from podium.backfill import database as backfill_db
from podium.backfill.airtable import AirtableSource
from podium.backfill.report import write_json_report
from podium.backfill.settings import BackfillSettings, ConfigurationError, load_settings
from podium.backfill.values import parse_created_time
from podium.cutover.plan import (
    BackfillTrail,
    Deletions,
    Ids,
    TablePlan,
    V1Record,
    describe,
    plan_deletions,
    plan_table,
)
from podium.cutover.v1_records import Row, load_rows

# Airtable takes at most 10 records per create, update or delete request.
WRITE_BATCH = 10
LOCK_KEY = "podium-cutover-writeback"
DEFAULT_MAX_DELETES = 100
# More rows whose record is gone than this share means the wrong base, not a few deletions.
MAX_MISSING_SHARE = 0.5
EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2


class WriteBackRefused(RuntimeError):
    """A safety check failed before anything was written; the message says which and why."""


@dataclass(frozen=True)
class Options:
    since: datetime
    dry_run: bool = False
    delete: bool = True
    max_deletes: int = DEFAULT_MAX_DELETES


@dataclass
class Result:
    since: datetime
    dry_run: bool
    base_id: str
    listed: dict[str, int] = field(default_factory=dict)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)
    kept_not_migrated: dict[str, int] = field(default_factory=dict)
    kept_unseen: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    recreated: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # phase → seconds
    requests: dict[str, int] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return sum(
            counts["created"] + counts["updated"] + counts["duplicates_deleted"]
            for counts in self.tables.values()
        ) + sum(len(records) for records in self.deleted.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "command": "rollback write-back",
            "since": self.since.isoformat(),
            "dry_run": self.dry_run,
            "base_id": self.base_id,
            "listed": self.listed,
            "tables": self.tables,
            "deleted": self.deleted,
            "kept_not_migrated": self.kept_not_migrated,
            "kept_unseen": self.kept_unseen,
            "unknown_kept": self.unknown,
            "recreated": self.recreated,
            "seconds": self.seconds,
            "requests": self.requests,
            "writes": self.writes,
        }


def _batches(items: Sequence[Any], size: int = WRITE_BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class AirtableWriter:
    """The v1 base through the backfill's client (its rate limiter and retries)."""

    def __init__(self, source: AirtableSource) -> None:
        self.source = source

    def _table(self, name: str) -> Any:
        return self.source.api.table(self.source.config.base_id, self.source.config.tables[name])

    def list_records(self, name: str, fields: Sequence[str]) -> dict[str, V1Record]:
        records: dict[str, V1Record] = {}
        for page in self.source.pages(name, fields=fields):
            for record in page:
                records[record["id"]] = V1Record(
                    record["id"], parse_created_time(record["createdTime"]), record["fields"]
                )
        return records

    def create(self, name: str, fields: Sequence[dict[str, Any]]) -> list[str]:
        created = self._table(name).batch_create(list(fields))
        return [record["id"] for record in created]

    def update(self, name: str, changes: Sequence[tuple[str, dict[str, Any]]]) -> None:
        self._table(name).batch_update(
            [{"id": record_id, "fields": fields} for record_id, fields in changes]
        )

    def delete(self, name: str, record_ids: Sequence[str]) -> None:
        self._table(name).batch_delete(list(record_ids))


async def load_trail(conn: asyncpg.Connection, base_id: str) -> BackfillTrail:
    not_migrated: dict[str, set[str]] = {}
    merged_into: dict[str, str] = {}
    entries = await conn.fetch(
        "SELECT source_table, record_id, disposition, related_record_id, details "
        "FROM backfill_quarantine WHERE disposition IN ('rejected', 'merged')"
    )
    for entry in entries:
        not_migrated.setdefault(entry["source_table"], set()).add(entry["record_id"])
        if entry["disposition"] == "merged" and entry["source_table"] == "users":
            details = entry["details"] or {}
            survivor = entry["related_record_id"] or details.get("survivor")
            if survivor:
                merged_into[entry["record_id"]] = survivor
    return BackfillTrail(
        not_migrated={table: frozenset(ids) for table, ids in not_migrated.items()},
        merged_into=merged_into,
        seen_before=await backfill_db.last_run_start(conn, base_id),
    )


class WriteBack:
    def __init__(
        self,
        source: AirtableSource,
        database_url: str,
        options: Options,
        *,
        console: Console | None = None,
    ) -> None:
        self.writer = AirtableWriter(source)
        self.source = source
        self.database_url = database_url
        self.options = options
        self.console = console or Console(stderr=True)
        self.result = Result(options.since, options.dry_run, source.config.base_id)
        self._placeholders = itertools.count(1)

    async def run(self) -> Result:
        conn = await backfill_db.connect(self.database_url)
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK_KEY):
                raise WriteBackRefused("another write-back is running against this database")
            await self._run(conn)
        finally:
            await conn.close()
        return self.result

    async def _run(self, conn: asyncpg.Connection) -> None:
        since = self.options.since
        trail = await load_trail(conn, self.result.base_id)
        if trail.seen_before is None:
            raise WriteBackRefused(
                f"this database has no finished backfill from base {self.result.base_id}: "
                "is AIRTABLE_BASE_ID the base v2 was migrated from, and DATABASE_URL v2's?"
            )
        async with self._phase("read PostgreSQL"):
            rows = await load_rows(conn)
        records: dict[str, dict[str, V1Record]] = {}
        for spec in TABLES:
            async with self._phase(f"list {spec.name}"):
                records[spec.name] = await asyncio.to_thread(
                    self.writer.list_records, spec.name, spec.fields
                )
            self.result.listed[spec.name] = len(records[spec.name])
            self._say(f"listed {spec.name}: {len(records[spec.name]):,} records")
        ids = Ids(rows, trail)
        self._check_base(rows, records)
        deletions = plan_deletions(records, ids, trail, since)
        self._check_deletions(deletions)
        _add_legacy_votes(rows["projects"], records["votes"], ids, deletions, since)
        existing = {name: set(table_records) for name, table_records in records.items()}
        for spec in TABLES:
            async with self._phase(f"write {spec.name}"):
                plan = plan_table(spec, rows[spec.name], records[spec.name], ids, since, existing)
                await self._carry_out(conn, plan, ids, existing[spec.name])
            self.result.tables[spec.name] = describe(plan)
            if plan.unknown:
                self.result.unknown[spec.name] = plan.unknown
            if plan.recreated:
                self.result.recreated[spec.name] = plan.recreated
        async with self._phase("delete"):
            for spec in reversed(TABLES):
                doomed = deletions.delete.get(spec.name, []) if self.options.delete else []
                if doomed and not self.options.dry_run:
                    for batch in _batches(doomed):
                        await asyncio.to_thread(self.writer.delete, spec.name, batch)
                self.result.deleted[spec.name] = list(doomed)
        self.result.kept_not_migrated = deletions.not_migrated
        self.result.kept_unseen = {name: found for name, found in deletions.unseen.items() if found}
        self.result.requests = self.source.stats.as_dict()

    # -- carrying a plan out -------------------------------------------------------------------

    async def _carry_out(
        self, conn: asyncpg.Connection, plan: TablePlan, ids: Ids, existing: set[str]
    ) -> None:
        table = plan.table
        if self.options.dry_run:
            for row_id, _ in plan.create:
                ids.claim(table, row_id, f"(new {table} #{next(self._placeholders)})")
            return
        if plan.adopt:
            await _store_record_ids(conn, table, plan.adopt)
        for batch in _batches(plan.duplicates):
            await asyncio.to_thread(self.writer.delete, table, batch)
        for batch in _batches(plan.create):
            created = await asyncio.to_thread(
                self.writer.create, table, [fields for _, fields in batch]
            )
            pairs = [
                (row_id, record_id) for (row_id, _), record_id in zip(batch, created, strict=True)
            ]
            # Stored before the next request: a crash now leaves at most this batch to adopt.
            await _store_record_ids(conn, table, pairs)
            for row_id, record_id in pairs:
                ids.claim(table, row_id, record_id)
                existing.add(record_id)
        for batch in _batches(plan.update):
            await asyncio.to_thread(self.writer.update, table, batch)
        if plan.create or plan.update:
            self._say(f"{table}: created {len(plan.create):,}, updated {len(plan.update):,}")

    # -- safety checks -------------------------------------------------------------------------

    def _check_base(
        self, rows: dict[str, dict[uuid.UUID, Row]], records: dict[str, dict[str, V1Record]]
    ) -> None:
        claimed = missing = 0
        for name, table_rows in rows.items():
            for row in table_rows.values():
                if row.airtable_id is not None:
                    claimed += 1
                    missing += row.airtable_id not in records[name]
        if claimed and missing > claimed * MAX_MISSING_SHARE:
            raise WriteBackRefused(
                f"{missing:,} of {claimed:,} migrated rows have no record in base "
                f"{self.result.base_id}: is AIRTABLE_BASE_ID the base v2 was migrated from?"
            )

    def _check_deletions(self, deletions: Deletions) -> None:
        if not self.options.delete or self.options.dry_run:
            return
        if deletions.total > self.options.max_deletes:
            counts = ", ".join(
                f"{name} {len(found):,}" for name, found in deletions.delete.items() if found
            )
            raise WriteBackRefused(
                f"{deletions.total:,} Airtable records would be deleted ({counts}), more than "
                f"--max-deletes {self.options.max_deletes}; check them with --dry-run, then "
                "raise --max-deletes (or pass --no-delete)"
            )

    # -- reporting -----------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.console.print(message)

    def _phase(self, name: str) -> _Phase:
        return _Phase(self.result.seconds, name)


class _Phase:
    """Times one phase into `seconds[name]`."""

    def __init__(self, seconds: dict[str, float], name: str) -> None:
        self.seconds, self.name = seconds, name

    async def __aenter__(self) -> None:
        self.started = time.monotonic()

    async def __aexit__(self, *_: object) -> None:
        self.seconds[self.name] = round(time.monotonic() - self.started, 2)


async def _store_record_ids(
    conn: asyncpg.Connection, table: str, pairs: Sequence[tuple[uuid.UUID, str]]
) -> None:
    async with conn.transaction():
        await conn.executemany(
            f"UPDATE {table} SET airtable_id = $2 WHERE id = $1",  # table: one of TABLES
            [(row_id, record_id) for row_id, record_id in pairs],
        )


def _add_legacy_votes(
    projects: dict[uuid.UUID, Row],
    votes: dict[str, V1Record],
    ids: Ids,
    deletions: Deletions,
    since: datetime,
) -> None:
    """Make each project's points the number of vote records v1 will link to it.

    That is v2's votes (all of them in Airtable after the write-back) plus the v1 votes the
    backfill did not migrate (duplicates, votes against the rules), which stay in the base: v1's
    own invariant "points = its votes" holds after the rollback.
    """
    doomed = set(deletions.delete.get("votes", []))
    legacy: Counter[uuid.UUID] = Counter()
    for record in votes.values():
        if record.created >= since or record.id in doomed:
            continue
        if ids.claimed_by("votes", record.id) is not None:
            continue
        linked = record.fields.get("project") or []
        project = ids.resolve("projects", linked[0]) if linked else None
        if project is not None:
            legacy[project] += 1
    for project_id, extra in legacy.items():
        if project_id in projects:
            projects[project_id].fields["points"] += extra


# -- command line ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollback_to_airtable.py",
        description="Write everything v2 created or changed since the cutover back into the v1 "
        "Airtable base, so redeploying v1 loses nothing. Configured like the backfill: "
        "AIRTABLE_TOKEN, AIRTABLE_BASE_ID, AIRTABLE_API_URL, AIRTABLE_*_TABLE, DATABASE_URL.",
    )
    parser.add_argument(
        "--since", required=True, help="the cutover time, ISO 8601 with a zone (e.g. ...Z)"
    )
    parser.add_argument("--dry-run", action="store_true", help="report what would change")
    parser.add_argument(
        "--no-delete", action="store_true", help="do not delete records deleted in v2"
    )
    parser.add_argument(
        "--max-deletes",
        type=int,
        default=DEFAULT_MAX_DELETES,
        help=f"refuse to delete more Airtable records than this (default {DEFAULT_MAX_DELETES})",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("rollback-writeback.json"),
        help="JSON report (default: rollback-writeback.json)",
    )
    return parser


def render(result: Result, console: Console) -> None:
    title = "Write-back (dry run: nothing written)" if result.dry_run else "Write-back"
    table = Table(title=f"{title} to {result.base_id} since {result.since:%Y-%m-%d %H:%M:%SZ}")
    columns = ("listed", "adopted", "created", "updated", "deleted", "duplicates_deleted")
    table.add_column("table")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for spec in TABLES:
        counts = {
            **result.tables.get(spec.name, {}),
            "listed": result.listed.get(spec.name, 0),
            "deleted": len(result.deleted.get(spec.name, [])),
        }
        table.add_row(spec.name, *(f"{counts.get(column, 0):,}" for column in columns))
    console.print(table)
    kept = sum(result.kept_not_migrated.values())
    console.print(f"kept: {kept:,} records the backfill did not migrate (quarantined)")
    for label, found in (
        ("never seen by the backfill, kept", result.kept_unseen),
        ("created after the cutover by something else, kept", result.unknown),
        ("record was gone from Airtable, created again", result.recreated),
    ):
        for name, record_ids in found.items():
            console.print(f"[yellow]{name}: {len(record_ids):,} {label}[/]: {record_ids[:10]}")
    total = sum(result.seconds.values())
    console.print(
        f"{result.writes:,} writes, {result.requests.get('requests', 0):,} Airtable requests "
        f"({result.requests.get('rate_limited', 0)} rate-limited), {total:.1f} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    console, errors = Console(), Console(stderr=True)
    try:
        settings: BackfillSettings = load_settings()
        options = Options(
            since=timestamps.parse_since(arguments.since),
            dry_run=arguments.dry_run,
            delete=not arguments.no_delete,
            max_deletes=arguments.max_deletes,
        )
    except (ConfigurationError, ValueError) as error:
        errors.print(f"[red]configuration:[/red] {error}")
        return EXIT_ERROR
    source = AirtableSource(settings.source_config())
    try:
        result = asyncio.run(
            WriteBack(source, settings.database_url, options, console=errors).run()
        )
    except WriteBackRefused as refusal:
        errors.print(f"[red]refused, nothing written:[/red] {refusal}")
        return EXIT_REFUSED
    finally:
        source.close()
    render(result, console)
    write_json_report(arguments.report, result.as_json())
    errors.print(f"report: {arguments.report}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
