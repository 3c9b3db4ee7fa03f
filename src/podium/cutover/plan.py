"""What the write-back must do to one v1 table, decided from PostgreSQL and a listing of Airtable.

Pure: no I/O. The write-back plans a table, carries the plan out, then plans the next one (its
links need the record ids the earlier tables just got).

How a PostgreSQL row and an Airtable record are paired:
- a row's `airtable_id` names its record (set by the backfill, or by an earlier write-back);
- a row without one (or whose record is gone) is new to v1: unless an orphan record created
  after the cutover carries the row's natural key (email, slug, join code, voter + project, ...),
  which is what a write-back that crashed between creating records and storing their ids leaves
  behind; the orphan is adopted instead of creating a second record;
- an orphan whose natural key belongs to a row that already has its record is a duplicate
  (a create retried after a lost answer) and is deleted;
- a record created before the cutover that no row claims was deleted in v2, unless the backfill
  never migrated it (quarantined as rejected or merged) or never saw it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podium.airtable_v1 import V1Table
from podium.cutover.v1_records import Row, airtable_value, is_empty, same_value


@dataclass(frozen=True)
class V1Record:
    """An Airtable record as listed: id, creation time, and the fields the write-back reads."""

    id: str
    created: datetime
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class BackfillTrail:
    """What the backfill left behind that decides whether a record without a row may go."""

    not_migrated: Mapping[str, frozenset[str]]  # table → records quarantined rejected or merged
    merged_into: Mapping[str, str]  # merged user record → survivor ("rec…" or "v2:<uuid>")
    seen_before: datetime | None  # start of the last finished backfill run or delta


class Ids:
    """Which Airtable record stands for which row, and back; grows as records are created."""

    def __init__(self, rows: Mapping[str, Mapping[uuid.UUID, Row]], trail: BackfillTrail) -> None:
        self._record: dict[str, dict[uuid.UUID, str]] = defaultdict(dict)
        self._row: dict[str, dict[str, uuid.UUID]] = defaultdict(dict)
        self._merged_into = trail.merged_into
        for table, table_rows in rows.items():
            for row in table_rows.values():
                if row.airtable_id is not None:
                    self.claim(table, row.id, row.airtable_id)

    def claim(self, table: str, row_id: uuid.UUID, record_id: str) -> None:
        previous = self._record[table].get(row_id)
        if previous is not None:
            self._row[table].pop(previous, None)
        self._record[table][row_id] = record_id
        self._row[table][record_id] = row_id

    def record(self, table: str, row_id: uuid.UUID) -> str:
        return self._record[table][row_id]

    def claimed_by(self, table: str, record_id: str) -> uuid.UUID | None:
        """The row whose airtable_id is this record."""
        return self._row[table].get(record_id)

    def resolve(self, table: str, record_id: str) -> uuid.UUID | None:
        """The row a v1 link to this record means (a merged user means its survivor)."""
        row_id = self._row[table].get(record_id)
        if row_id is not None or table != "users":
            return row_id
        survivor = self._merged_into.get(record_id)
        if survivor is None:
            return None
        if survivor.startswith("v2:"):
            return uuid.UUID(survivor.removeprefix("v2:"))
        return self._row[table].get(survivor)


@dataclass
class TablePlan:
    table: str
    adopt: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # row ← orphan record
    duplicates: list[str] = field(default_factory=list)  # orphans copying a row's record
    create: list[tuple[uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)  # rows' records gone from Airtable
    update: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # changed fields
    unknown: list[str] = field(default_factory=list)  # post-cutover records nobody explains

    @property
    def writes(self) -> int:
        return len(self.duplicates) + len(self.create) + len(self.update)


@dataclass
class Deletions:
    """Records created before the cutover that no row claims, per table, sorted out."""

    delete: dict[str, list[str]] = field(default_factory=dict)  # deleted in v2
    not_migrated: dict[str, int] = field(default_factory=dict)  # kept: quarantined by backfill
    unseen: dict[str, list[str]] = field(default_factory=dict)  # kept: the backfill never saw

    @property
    def total(self) -> int:
        return sum(len(records) for records in self.delete.values())


def plan_deletions(
    records: Mapping[str, Mapping[str, V1Record]],
    ids: Ids,
    trail: BackfillTrail,
    since: datetime,
) -> Deletions:
    deletions = Deletions()
    for table, table_records in records.items():
        quarantined = trail.not_migrated.get(table, frozenset())
        delete, unseen, kept = [], [], 0
        for record in table_records.values():
            if record.created >= since or ids.claimed_by(table, record.id) is not None:
                continue
            if record.id in quarantined:
                kept += 1
            elif trail.seen_before is None or record.created >= trail.seen_before:
                unseen.append(record.id)
            else:
                delete.append(record.id)
        deletions.delete[table] = delete
        deletions.not_migrated[table] = kept
        deletions.unseen[table] = unseen
    return deletions


def row_key(table: str, row: Row) -> Hashable:
    """The natural key an orphan record is matched on (unique per table, or nearly: referrals)."""
    fields, single = row.fields, row.single
    if table == "users":
        return str(fields["email"]).strip().lower()
    if table == "events":
        return str(fields["slug"])
    if table == "projects":
        return str(fields["join_code"]).upper()
    if table == "votes":
        return (single["voter"], single["project"])
    return (single["user"], single["event"], str(fields["content"]).strip())


def record_key(table: str, record: V1Record, ids: Ids) -> Hashable:
    fields = record.fields

    def link(name: str, target: str) -> uuid.UUID | None:
        linked = fields.get(name) or []
        return ids.resolve(target, linked[0]) if linked else None

    if table == "users":
        return str(fields.get("email", "")).strip().lower()
    if table == "events":
        return fields.get("slug")
    if table == "projects":
        return str(fields.get("join_code", "")).upper()
    if table == "votes":
        return (link("voter", "users"), link("project", "projects"))
    return (link("user", "users"), link("event", "events"), str(fields.get("content", "")).strip())


def plan_table(
    spec: V1Table,
    rows: Mapping[uuid.UUID, Row],
    records: Mapping[str, V1Record],
    ids: Ids,
    since: datetime,
    existing: Mapping[str, Iterable[str]],
) -> TablePlan:
    """`existing`: table → record ids Airtable holds (a link to anything else is refused)."""
    plan = TablePlan(spec.name)
    table = spec.name
    unsynced = [
        row for row in rows.values() if row.airtable_id is None or row.airtable_id not in records
    ]
    orphans = sorted(
        (
            record
            for record in records.values()
            if record.created >= since and ids.claimed_by(table, record.id) is None
        ),
        key=lambda record: (record.created, record.id),
    )
    _match_orphans(plan, table, rows, unsynced, orphans, ids)
    adopted = {row_id for row_id, _ in plan.adopt}
    for row in sorted(unsynced, key=lambda row: (row.created_at, str(row.id))):
        if row.id in adopted:
            continue
        if row.airtable_id is not None:
            plan.recreated.append(row.airtable_id)
        plan.create.append((row.id, _create_fields(spec, row, ids)))
    targets = {name: set(found) for name, found in existing.items()}
    for row in rows.values():
        record_id = row.airtable_id if row.id not in adopted else ids.record(table, row.id)
        if record_id is None or record_id not in records:
            continue
        changes = _changed_fields(spec, row, records[record_id], ids, since, targets)
        if changes:
            plan.update.append((record_id, changes))
    plan.update.sort()
    return plan


def _match_orphans(
    plan: TablePlan,
    table: str,
    rows: Mapping[uuid.UUID, Row],
    unsynced: list[Row],
    orphans: list[V1Record],
    ids: Ids,
) -> None:
    waiting: dict[Hashable, list[Row]] = defaultdict(list)
    for row in sorted(unsynced, key=lambda row: (row.created_at, str(row.id))):
        waiting[row_key(table, row)].append(row)
    unsynced_ids = {row.id for row in unsynced}
    taken_keys = {
        row_key(table, row)
        for row in rows.values()
        if row.airtable_id is not None and row.id not in unsynced_ids
    }
    for orphan in orphans:
        key = record_key(table, orphan, ids)
        if waiting.get(key):
            row = waiting[key].pop(0)
            ids.claim(table, row.id, orphan.id)
            plan.adopt.append((row.id, orphan.id))
            taken_keys.add(key)
        elif key in taken_keys:
            plan.duplicates.append(orphan.id)
        else:
            plan.unknown.append(orphan.id)


def _create_fields(spec: V1Table, row: Row, ids: Ids) -> dict[str, Any]:
    fields = {
        name: row.fields[name]
        for name in (*spec.scalars, *spec.derived)
        if not is_empty(row.fields[name])
    }
    for link, target in spec.single_links.items():
        fields[link] = [ids.record(target, row.single[link])]
    for link, target in spec.link_lists.items():
        members = sorted(ids.record(target, member) for member in row.lists[link])
        if members:
            fields[link] = members
    return fields


def _changed_fields(
    spec: V1Table,
    row: Row,
    record: V1Record,
    ids: Ids,
    since: datetime,
    targets: Mapping[str, set[str]],
) -> dict[str, Any]:
    current = record.fields
    changes: dict[str, Any] = {}
    # Fields a user edits are written only for rows v2 changed: the backfill's repairs of rows
    # nobody touched (a re-derived slug, a cleared bad date) are not v1's business.
    if row.changed_since(since):
        for name in spec.scalars:
            if not same_value(name, row.fields[name], current.get(name)):
                changes[name] = airtable_value(row.fields[name])
        for link, target in spec.single_links.items():
            linked = current.get(link) or []
            if not linked or ids.resolve(target, linked[0]) != row.single[link]:
                changes[link] = [ids.record(target, row.single[link])]
    # Link lists and points change without the row's updated_at moving (a join, a vote).
    for link, target in spec.link_lists.items():
        merged = merged_links(current.get(link) or [], row.lists[link], target, ids, targets)
        if merged is not None:
            changes[link] = merged
    for name in spec.derived:
        if not same_value(name, row.fields[name], current.get(name)):
            changes[name] = airtable_value(row.fields[name])
    return changes


def merged_links(
    current: list[str],
    wanted: set[uuid.UUID],
    target: str,
    ids: Ids,
    targets: Mapping[str, set[str]],
) -> list[str] | None:
    """The link list v1 should hold, or None when it already links exactly v2's rows.

    Links to records v2 has no row for (rejected by the backfill) are kept as they are; links to
    records that exist nowhere are dropped once the list is rewritten (Airtable refuses them).
    """
    resolved = {record_id: ids.resolve(target, record_id) for record_id in current}
    if {row_id for row_id in resolved.values() if row_id is not None} == wanted:
        return None
    known = targets.get(target, set())
    kept = [
        record_id
        for record_id in current
        if (resolved[record_id] is None and record_id in known) or resolved[record_id] in wanted
    ]
    present = {resolved[record_id] for record_id in kept}
    added = sorted(ids.record(target, row_id) for row_id in wanted - present)
    return list(dict.fromkeys([*kept, *added]))


def describe(plan: TablePlan) -> dict[str, int]:
    return {
        "adopted": len(plan.adopt),
        "created": len(plan.create),
        "recreated": len(plan.recreated),
        "updated": len(plan.update),
        "duplicates_deleted": len(plan.duplicates),
        "unknown_kept": len(plan.unknown),
    }
