"""What a stage's plan changes in PostgreSQL: rows to insert or update, stale rows, counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from podium.backfill.plan import Existing, Pair, QuarantineEntry, Row, StagePlan
from podium.backfill.tables import RECORD_TABLES, STAGE_TARGETS


@dataclass
class TableCounts:
    """Per v2 table. Record tables: read = inserted + updated + unchanged + quarantined +
    trashed (records whose row is in the trash: left alone, so a re-run does not resurrect it).

    Join tables count links: read = inserted + unchanged + quarantined (links dropped because
    their target is missing or was not migrated). `reported` counts records that landed with an
    entry (repaired or noted); `stale` rows exist in PostgreSQL but no longer in the base.
    """

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    reported: int = 0
    stale: int = 0
    trashed: int = 0

    def add(self, other: TableCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class StageChanges:
    stage: str
    counts: dict[str, TableCounts] = field(default_factory=dict)
    upserts: dict[str, list[Row]] = field(default_factory=dict)
    new_pairs: dict[str, list[Pair]] = field(default_factory=dict)
    stale_rows: dict[str, list[str]] = field(default_factory=dict)
    stale_pairs: dict[str, list[Pair]] = field(default_factory=dict)
    quarantine_upserts: list[QuarantineEntry] = field(default_factory=list)
    quarantine_deletes: list[tuple[str, str, str]] = field(default_factory=list)


def diff_stage(plan: StagePlan, existing: Existing) -> StageChanges:
    changes = StageChanges(plan.stage)
    landed_with_entries = {entry.record_id for entry in plan.entries} - plan.rejected
    for target in STAGE_TARGETS[plan.stage]:
        if target in RECORD_TABLES:
            changes.counts[target] = _diff_rows(plan, existing, target, changes)
            changes.counts[target].reported = len(landed_with_entries)
        else:
            changes.counts[target] = _diff_pairs(plan, existing, target, changes)
    _diff_quarantine(plan, existing, changes)
    return changes


def _diff_rows(
    plan: StagePlan, existing: Existing, table: str, changes: StageChanges
) -> TableCounts:
    columns = RECORD_TABLES[table].column_names
    current = existing.rows.get(table, {})
    counts = TableCounts(read=len(plan.record_ids), quarantined=len(plan.rejected))
    upserts: list[Row] = []
    landing: set[str] = set()
    for row in plan.rows.get(table, []):
        landing.add(row["airtable_id"])
        old = current.get(row["airtable_id"])
        if old is None:
            counts.inserted += 1
            upserts.append(row)
        elif any(row[name] != old[name] for name in columns):
            counts.updated += 1
            upserts.append(row)
        else:
            counts.unchanged += 1
    scope = current.keys() if plan.full else plan.record_ids & current.keys()
    stale = sorted(record_id for record_id in scope if record_id not in landing)
    counts.stale = len(stale)
    changes.upserts[table] = upserts
    changes.stale_rows[table] = stale
    return counts


def _diff_pairs(
    plan: StagePlan, existing: Existing, table: str, changes: StageChanges
) -> TableCounts:
    current = existing.pairs.get(table, set())
    planned = plan.pairs.get(table, set())
    parents = plan.parents.get(table, set())
    new = sorted(planned - current)
    stale = sorted(pair for pair in current if pair[0] in parents and pair not in planned)
    dropped = plan.links_dropped.get(table, 0)
    changes.new_pairs[table] = new
    changes.stale_pairs[table] = stale
    return TableCounts(
        read=len(planned) + dropped,
        inserted=len(new),
        unchanged=len(planned) - len(new),
        quarantined=dropped,
        stale=len(stale),
    )


def _diff_quarantine(plan: StagePlan, existing: Existing, changes: StageChanges) -> None:
    planned = {entry.key: entry for entry in plan.entries}
    for key, entry in planned.items():
        if existing.quarantine.get(key) != entry:
            changes.quarantine_upserts.append(entry)
    for key in existing.quarantine:
        source, record_id, _ = key
        in_scope = source == plan.stage and (plan.full or record_id in plan.record_ids)
        if in_scope and key not in planned:
            changes.quarantine_deletes.append(key)


def summary_counts(stages: list[StageChanges]) -> dict[str, dict[str, Any]]:
    totals: dict[str, TableCounts] = {}
    for stage in stages:
        for table, counts in stage.counts.items():
            totals.setdefault(table, TableCounts()).add(counts)
    return {table: counts.as_dict() for table, counts in totals.items()}
