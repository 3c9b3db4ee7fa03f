"""`run` and `delta`: read the base, plan each stage, write it, resume after a crash.

Reading runs ahead in a thread (see `feed`); each v1 table is planned once all of it has arrived
(deduplication and "earliest wins" rules need the whole table) and written in one transaction
together with its quarantine entries and checkpoint, while the next table is being read. A run
killed at any moment therefore leaves whole stages behind; the next `run` skips them (their
context comes back from the checkpoint) and redoes the rest, ending where an uninterrupted run
would have.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from rich.console import Console

from podium.backfill import database as db
from podium.backfill.airtable import AirtableSource, ids_formula, since_formula
from podium.backfill.context import Context
from podium.backfill.diff import StageChanges, TableCounts, diff_stage, summary_counts
from podium.backfill.feed import End, Listing, PageFeed
from podium.backfill.plan import Existing, QuarantineEntry
from podium.backfill.report import ProgressView
from podium.backfill.stages import plan_stage
from podium.backfill.state import context_from_existing
from podium.backfill.tables import (
    RECORD_TABLES,
    SOURCE_FIELDS,
    STAGE_TARGETS,
    STAGES,
)

# A cheap field per table for the deletion scan, which only needs record ids.
ID_SCAN_FIELD = {
    "users": "email",
    "events": "slug",
    "projects": "join_code",
    "votes": "voter",
    "referrals": "user",
}
# Records retried by a delta are fetched by id, this many per request.
IDS_PER_LISTING = 100


@dataclass
class Hooks:
    """Test seams; raising from one simulates a crash at that point."""

    on_page: Callable[[str, int], None] | None = None  # (stage, pages of it so far)
    before_commit: Callable[[str], None] | None = None  # a stage's writes done, not committed
    after_commit: Callable[[str], None] | None = None


@dataclass
class Options:
    dry_run: bool = False
    delete: bool = False  # delete rows (and links) no longer backed by the base
    restart: bool = False  # ignore an unfinished run's checkpoints
    batch_size: int = 5000
    progress: bool = False
    hooks: Hooks = field(default_factory=Hooks)


@dataclass
class Result:
    command: str
    dry_run: bool
    counts: dict[str, dict[str, int]]
    resumed: list[str] = field(default_factory=list)  # stages an earlier attempt finished
    deleted: dict[str, list[str]] = field(default_factory=dict)  # gone from the base (delta)
    removed: dict[str, int] = field(default_factory=dict)  # rows deleted (--delete)
    read_stats: dict[str, int] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    since: datetime | None = None
    # Per stage: seconds spent planning and writing (the rest of the wall time is reading).
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        return sum(counts.get("quarantined", 0) for counts in self.counts.values())


def format_airtable_time(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Airtable writes times."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def _paused_gc() -> Iterator[None]:
    """Planning allocates millions of small objects that all stay alive: the cyclic GC would
    rescan them again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Backfill:
    def __init__(
        self,
        source: AirtableSource,
        database_url: str,
        *,
        options: Options | None = None,
        console: Console | None = None,
    ) -> None:
        self.source = source
        self.database_url = database_url
        self.options = options or Options()
        self.console = console or Console(stderr=True)
        self.base_id = source.config.base_id
        self._planned_entries: list[QuarantineEntry] = []
        self.timings: dict[str, dict[str, float]] = {}

    # -- commands --------------------------------------------------------------------------

    async def run(self) -> Result:
        """Migrate every table (resuming an unfinished run unless `restart`)."""
        started = time.monotonic()
        conn = await db.connect(self.database_url)
        try:
            await db.lock(conn)
            existing = await db.load_existing(conn)
            run: db.RunRecord | None = None
            done: dict[str, db.Checkpoint] = {}
            if not self.options.dry_run:
                previous = await db.unfinished_run(conn, self.base_id)
                # --delete needs every table planned to know what is stale: no skipping then.
                if previous is not None and not (self.options.restart or self.options.delete):
                    run, done = previous, previous.checkpoints
                    await db.mark_run(conn, run.id, "running")
                else:
                    if previous is not None:
                        await db.mark_run(conn, previous.id, "failed")
                    run = await db.start_run(conn, "run", self.base_id)
            estimates = await db.last_read_counts(conn, self.base_id)
            context = Context()
            for stage in STAGES:
                if stage in done:
                    context.restore(stage, done[stage].carry)
            listings = [
                Listing(stage, fields=SOURCE_FIELDS[stage]) for stage in STAGES if stage not in done
            ]
            try:
                changes = await self._migrate(
                    conn, listings, context, existing, full=True, run=run, estimates=estimates
                )
                removed = await self._prune(conn, changes) if self.options.delete else {}
            except BaseException:
                if run is not None:
                    with contextlib.suppress(Exception):
                        await db.mark_run(conn, run.id, "failed")
                raise
            counts = summary_counts(changes)
            for checkpoint in done.values():
                for table, previous_counts in checkpoint.counts.items():
                    total = TableCounts(**previous_counts)
                    if table in counts:
                        total.add(TableCounts(**counts[table]))
                    counts[table] = total.as_dict()
            result = Result(
                "run",
                self.options.dry_run,
                counts,
                resumed=[stage for stage in STAGES if stage in done],
                removed=removed,
                read_stats=self.source.stats.as_dict(),
                seconds=time.monotonic() - started,
                timings=self.timings,
            )
            result.entries = await self._entries(conn, changes)
            if run is not None:
                read = {stage: counts[STAGE_TARGETS[stage][0]]["read"] for stage in STAGES}
                await db.finish_run(conn, run.id, "finished", {"tables": counts, "read": read})
            return result
        finally:
            await conn.close()

    async def delta(self, since: datetime | None, *, scan_deletions: bool = True) -> Result:
        """Re-sync records created or modified since `since` (None: since the last finished
        run), retry quarantined records, and report records deleted from the base."""
        started = time.monotonic()
        conn = await db.connect(self.database_url)
        try:
            await db.lock(conn)
            if since is None:
                since = await db.last_run_start(conn, self.base_id)
                if since is None:
                    raise ValueError("no finished run to take --since from; give a time")
            existing = await db.load_existing(conn)
            context = context_from_existing(existing)
            moment = format_airtable_time(since)
            listings: list[Listing] = []
            for stage in STAGES:
                listings.append(Listing(stage, SOURCE_FIELDS[stage], since_formula(moment)))
                retry = sorted(
                    {
                        entry.record_id
                        for entry in existing.quarantine.values()
                        if entry.source_table == stage
                        and entry.disposition in ("rejected", "merged")
                    }
                )
                for start in range(0, len(retry), IDS_PER_LISTING):
                    chunk = retry[start : start + IDS_PER_LISTING]
                    listings.append(Listing(stage, SOURCE_FIELDS[stage], ids_formula(chunk)))
            if scan_deletions:
                listings += [
                    Listing(stage, [ID_SCAN_FIELD[stage]], ids_only=True) for stage in STAGES
                ]
            run = None
            if not self.options.dry_run:
                run = await db.start_run(conn, "delta", self.base_id, since)
            scanned: dict[str, set[str]] = {}
            try:
                changes = await self._migrate(
                    conn, listings, context, existing, full=False, run=None, scanned=scanned
                )
                deleted = _deleted_records(existing, changes, scanned) if scan_deletions else {}
                removed: dict[str, int] = {}
                if self.options.delete:
                    removed = await self._prune(conn, changes, deleted)
            except BaseException:
                if run is not None:
                    with contextlib.suppress(Exception):
                        await db.finish_run(conn, run.id, "failed", {})
                raise
            counts = summary_counts(changes)
            if run is not None:
                await db.finish_run(conn, run.id, "finished", {"tables": counts})
            result = Result(
                "delta",
                self.options.dry_run,
                counts,
                deleted=deleted,
                removed=removed,
                read_stats=self.source.stats.as_dict(),
                seconds=time.monotonic() - started,
                since=since,
                timings=self.timings,
            )
            result.entries = await self._entries(conn, changes)
            return result
        finally:
            await conn.close()

    # -- the pipeline ----------------------------------------------------------------------

    async def _migrate(
        self,
        conn: asyncpg.Connection,
        listings: list[Listing],
        context: Context,
        existing: Existing,
        *,
        full: bool,
        run: db.RunRecord | None,
        estimates: dict[str, int] | None = None,
        scanned: dict[str, set[str]] | None = None,
    ) -> list[StageChanges]:
        stages = list(dict.fromkeys(listing.stage for listing in listings if not listing.ids_only))
        open_listings = {stage: set[int]() for stage in stages}
        for number, listing in enumerate(listings):
            if not listing.ids_only:
                open_listings[listing.stage].add(number)
        records: dict[str, dict[str, dict[str, Any]]] = {stage: {} for stage in stages}
        waiting = list(stages)
        pages: Counter[str] = Counter()
        changes: list[StageChanges] = []
        view = ProgressView(self.console, enabled=self.options.progress)
        for stage in stages:
            view.add(stage, (estimates or {}).get(stage))
        with view:
            async with PageFeed(self.source, listings) as feed:
                async for item in feed.items():
                    listing = listings[item.listing]
                    stage = listing.stage
                    if isinstance(item, End):
                        open_listings.get(stage, set()).discard(item.listing)
                        # Stages are planned in order, each once all of it has arrived.
                        while waiting and not open_listings[waiting[0]]:
                            ready = waiting.pop(0)
                            view.status(ready, "planning" if self.options.dry_run else "writing")
                            batch = list(records.pop(ready).values())
                            changes.append(
                                await self._stage(conn, ready, batch, context, existing, full, run)
                            )
                            view.done(ready)
                        continue
                    if listing.ids_only:
                        assert scanned is not None
                        scanned.setdefault(stage, set()).update(r["id"] for r in item.records)
                        continue
                    for record in item.records:
                        records[stage].setdefault(record["id"], record)
                    pages[stage] += 1
                    view.advance(stage, len(item.records))
                    if self.options.hooks.on_page is not None:
                        self.options.hooks.on_page(stage, pages[stage])
        return changes

    async def _stage(
        self,
        conn: asyncpg.Connection,
        stage: str,
        records: list[dict[str, Any]],
        context: Context,
        existing: Existing,
        full: bool,
        run: db.RunRecord | None,
    ) -> StageChanges:
        planning = time.monotonic()
        records, trashed = existing.without_trashed(STAGE_TARGETS[stage][0], records)
        with _paused_gc():
            plan = plan_stage(stage, records, context, existing, full=full)
            changes = diff_stage(plan, existing)
        landed = changes.counts[STAGE_TARGETS[stage][0]]
        landed.read += trashed
        landed.trashed = trashed
        self._planned_entries.extend(plan.entries)
        writing = time.monotonic()
        self.timings[stage] = {"plan": writing - planning, "write": 0.0}
        if not self.options.dry_run:
            async with conn.transaction():
                await self._write(conn, changes)
                if run is not None:
                    counts = {table: value.as_dict() for table, value in changes.counts.items()}
                    checkpoint = db.Checkpoint(stage, counts, context.carry(stage))
                    await db.save_checkpoint(conn, run.id, checkpoint)
                if self.options.hooks.before_commit is not None:
                    self.options.hooks.before_commit(stage)
        self.timings[stage]["write"] = time.monotonic() - writing
        if self.options.hooks.after_commit is not None:
            self.options.hooks.after_commit(stage)
        return changes

    async def _write(self, conn: asyncpg.Connection, changes: StageChanges) -> None:
        size = self.options.batch_size
        for target in STAGE_TARGETS[changes.stage]:
            if target in RECORD_TABLES:
                await db.upsert_rows(conn, RECORD_TABLES[target], changes.upserts[target], size)
            else:
                await db.insert_pairs(conn, target, changes.new_pairs[target], size)
        await db.upsert_quarantine(conn, changes.quarantine_upserts, size)
        await db.delete_quarantine(conn, changes.quarantine_deletes)

    async def _prune(
        self,
        conn: asyncpg.Connection,
        changes: list[StageChanges],
        deleted: dict[str, list[str]] | None = None,
    ) -> dict[str, int]:
        """Delete rows and links the base no longer backs (only with --delete)."""
        removed: dict[str, int] = {}
        if self.options.dry_run:
            return removed
        stale_rows: dict[str, set[str]] = {table: set() for table in RECORD_TABLES}
        for stage_changes in changes:
            for table, record_ids in stage_changes.stale_rows.items():
                stale_rows[table].update(record_ids)
        for stage, record_ids in (deleted or {}).items():
            stale_rows[STAGE_TARGETS[stage][0]].update(record_ids)
        async with conn.transaction():
            for stage_changes in changes:
                for table, pairs in stage_changes.stale_pairs.items():
                    if pairs:
                        removed[table] = removed.get(table, 0) + await db.delete_pairs(
                            conn, table, pairs
                        )
            for table in reversed(list(RECORD_TABLES)):
                if stale_rows[table]:
                    removed[table] = await db.delete_rows(conn, table, sorted(stale_rows[table]))
            gone = [
                (stage, record_id)
                for stage, record_ids in (deleted or {}).items()
                for record_id in record_ids
            ]
            if gone:
                await conn.execute(
                    "DELETE FROM backfill_quarantine WHERE (source_table, record_id) IN "
                    "(SELECT * FROM unnest($1::text[], $2::text[]))",
                    [item[0] for item in gone],
                    [item[1] for item in gone],
                )
        return removed

    async def _entries(
        self, conn: asyncpg.Connection, changes: list[StageChanges]
    ) -> list[dict[str, Any]]:
        if self.options.dry_run:
            return [entry.as_json() for entry in self._planned_entries]
        return await db.quarantine_entries(conn)


def _deleted_records(
    existing: Existing, changes: list[StageChanges], scanned: dict[str, set[str]]
) -> dict[str, list[str]]:
    """Records PostgreSQL knows (rows or quarantine entries) that the base no longer has."""
    deleted: dict[str, list[str]] = {}
    for stage in STAGES:
        known = set(existing.rows.get(STAGE_TARGETS[stage][0], {}))
        known |= {
            entry.record_id for entry in existing.quarantine.values() if entry.source_table == stage
        }
        for stage_changes in changes:
            if stage_changes.stage == stage:
                known |= {
                    row["airtable_id"]
                    for row in stage_changes.upserts.get(STAGE_TARGETS[stage][0], [])
                }
        deleted[stage] = sorted(known - scanned.get(stage, set()))
    return deleted
