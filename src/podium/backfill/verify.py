"""`verify`: Airtable and PostgreSQL compared record by record and link by link.

For every v1 table: the ids that should have landed (the same rules as `run`, applied to the
base as it is now) against the rows holding an airtable_id, and a hash of each record's migrated
fields on both sides, with foreign keys written as v1 record ids so no UUID takes part. For
every link in the base, on its owning side and on its inverse side: it is a foreign key or join
row in PostgreSQL, or it is accounted for by the quarantine (its record or its target did not
land, or the entry lists the link as dropped). The quarantine itself must hold exactly the
entries the rules produce.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from podium.backfill import database as db
from podium.backfill.airtable import AirtableSource
from podium.backfill.context import Context
from podium.backfill.feed import End, Listing, PageFeed
from podium.backfill.plan import Existing, Row, StagePlan
from podium.backfill.stages import plan_stage
from podium.backfill.tables import (
    INVERSE_LINKS,
    JOIN_TABLES,
    RECORD_TABLES,
    SOURCE_FIELDS,
    STAGE_TARGETS,
    STAGES,
)

# Owning-side links and where PostgreSQL keeps them: (v1 table, field) → (v2 table, column)
# for foreign keys, or the join table. tests/backfill/test_columns.py checks every foreign key
# and join row the backfill writes is here.
LINKS: dict[tuple[str, str], tuple[str, str]] = {
    ("events", "owner"): ("events", "owner_id"),
    ("events", "attendees"): ("event_attendees", "user_id"),
    ("projects", "event"): ("projects", "event_id"),
    ("projects", "owner"): ("projects", "owner_id"),
    ("projects", "collaborators"): ("project_collaborators", "user_id"),
    ("votes", "voter"): ("votes", "voter_id"),
    ("votes", "project"): ("votes", "project_id"),
    ("votes", "event"): ("votes", "event_id"),
    ("referrals", "user"): ("referrals", "user_id"),
    ("referrals", "event"): ("referrals", "event_id"),
}
LINK_TARGET = {
    "owner": "users",
    "attendees": "users",
    "collaborators": "users",
    "voter": "users",
    "user": "users",
    "event": "events",
    "project": "projects",
}
SHOWN = 10  # ids listed per problem in the printed report (all of them in the JSON report)


@dataclass
class TableCheck:
    table: str
    airtable: int = 0
    postgres: int = 0
    quarantined: int = 0
    trashed: int = 0  # rows in the trash: accounted for, as their records are in the base
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    links_checked: int = 0
    link_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.mismatched or self.link_problems)

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "ok": self.ok,
            "airtable": self.airtable,
            "postgres": self.postgres,
            "quarantined": self.quarantined,
            "trashed": self.trashed,
            "missing": self.missing,
            "extra": self.extra,
            "mismatched": self.mismatched,
            "links_checked": self.links_checked,
            "link_problems": self.link_problems,
        }


@dataclass
class VerifyResult:
    tables: list[TableCheck]
    quarantine: TableCheck
    read_stats: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.tables) and self.quarantine.ok


async def verify(source: AirtableSource, database_url: str) -> VerifyResult:
    conn = await db.connect(database_url)
    try:
        base = await read_base(source)
        existing = await db.load_existing(conn)
    finally:
        await conn.close()
    return compare(base, existing, source.stats.as_dict())


async def read_base(source: AirtableSource) -> dict[str, list[dict[str, Any]]]:
    """Every record of every v1 table, every field (the inverse links too)."""
    base: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    listings = [Listing(stage) for stage in STAGES]
    async with PageFeed(source, listings) as feed:
        async for item in feed.items():
            if not isinstance(item, End):
                base[listings[item.listing].stage].extend(item.records)
    return base


def compare(
    base: Mapping[str, list[dict[str, Any]]], existing: Existing, read_stats: dict[str, int]
) -> VerifyResult:
    context = Context()
    # Records whose rows are in the trash are compared as `run` treats them: left out, and
    # accounted for (their links too) rather than missing.
    trashed: dict[str, int] = {}
    live: dict[str, list[dict[str, Any]]] = {}
    for stage in STAGES:
        live[stage], trashed[stage] = existing.without_trashed(STAGE_TARGETS[stage][0], base[stage])
    plans: dict[str, StagePlan] = {
        stage: plan_stage(stage, _as_run_reads(stage, live[stage]), context, existing, full=True)
        for stage in STAGES
    }
    keys = _row_keys(existing, plans)
    not_landed: dict[str, set[str]] = {
        stage: set(existing.trashed.get(STAGE_TARGETS[stage][0], set())) for stage in STAGES
    }
    dropped: set[tuple[str, str, str, str]] = set()
    alias: dict[str, str] = {}
    for entry in existing.quarantine.values():
        if entry.disposition in ("rejected", "merged"):
            not_landed[entry.source_table].add(entry.record_id)
        if entry.disposition == "merged" and entry.details.get("survivor"):
            alias[entry.record_id] = str(entry.details["survivor"])
        for link in entry.details.get("links", []):
            dropped.add((entry.source_table, entry.record_id, link["field"], link["target"]))

    checks: dict[str, TableCheck] = {}
    for stage in STAGES:
        for target in STAGE_TARGETS[stage]:
            if target in RECORD_TABLES:
                checks[target] = _check_rows(target, plans[stage], existing, keys)
                checks[target].trashed = trashed[stage]
            else:
                checks[target] = _check_pairs(target, plans[stage], existing, keys)
    relations = _relations(existing, keys)
    for (table, link_field), (target, _) in LINKS.items():
        check = checks[target]
        for record in base[table]:
            for linked in _links(record, link_field):
                check.links_checked += 1
                problem = _unaccounted(
                    table, record["id"], link_field, linked, relations, not_landed, dropped, alias
                )
                if problem:
                    check.link_problems.append(problem)
    present = {stage: {record["id"] for record in live[stage]} for stage in STAGES}
    for table, inverses in INVERSE_LINKS.items():
        for record in base[table]:
            for back_field, owner_table, owner_field in inverses:
                check = checks[LINKS[(owner_table, owner_field)][0]]
                for owner_id in _links(record, back_field):
                    if owner_id not in present[owner_table]:
                        continue  # a one-sided link inside Airtable: nothing was migrated from it
                    check.links_checked += 1
                    problem = _unaccounted(
                        owner_table,
                        owner_id,
                        owner_field,
                        record["id"],
                        relations,
                        not_landed,
                        dropped,
                        alias,
                        inverse=f"{table}.{back_field}",
                    )
                    if problem:
                        check.link_problems.append(problem)
    quarantine = _check_quarantine(plans, existing)
    return VerifyResult([checks[name] for name in checks], quarantine, read_stats)


def _as_run_reads(stage: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with only the fields `run` requests, so the quarantine entries compare."""
    wanted = set(SOURCE_FIELDS[stage])
    return [
        {**record, "fields": {k: v for k, v in record.get("fields", {}).items() if k in wanted}}
        for record in records
    ]


def _links(record: Mapping[str, Any], name: str) -> list[str]:
    value = record.get("fields", {}).get(name)
    if not isinstance(value, list):
        return []
    return list(dict.fromkeys(item for item in value if isinstance(item, str)))


def _row_keys(existing: Existing, plans: Mapping[str, StagePlan]) -> dict[uuid.UUID, str]:
    keys: dict[uuid.UUID, str] = {}
    for table in RECORD_TABLES:
        for record_id, row in existing.rows.get(table, {}).items():
            keys[row["id"]] = record_id
        for row in existing.native.get(table, []):
            keys[row["id"]] = f"v2:{row['id']}"
    for plan in plans.values():
        for rows in plan.rows.values():
            for row in rows:
                keys[row["id"]] = row["airtable_id"]
    return keys


def _canonical(value: Any, keys: Mapping[uuid.UUID, str]) -> Any:
    if isinstance(value, uuid.UUID):
        return keys.get(value, f"unknown:{value}")
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def record_hash(table: str, row: Row, keys: Mapping[uuid.UUID, str]) -> str:
    """SHA-256 of a row's migrated fields, foreign keys as v1 record ids."""
    fields = {name: _canonical(row[name], keys) for name in RECORD_TABLES[table].column_names}
    text = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_rows(
    table: str, plan: StagePlan, existing: Existing, keys: Mapping[uuid.UUID, str]
) -> TableCheck:
    expected = {row["airtable_id"]: record_hash(table, row, keys) for row in plan.rows[table]}
    actual = {
        record_id: record_hash(table, row, keys)
        for record_id, row in existing.rows.get(table, {}).items()
    }
    return TableCheck(
        table,
        airtable=len(plan.record_ids),
        postgres=len(actual),
        quarantined=len(plan.rejected),
        missing=sorted(expected.keys() - actual.keys()),
        extra=sorted(actual.keys() - expected.keys()),
        mismatched=sorted(
            record_id
            for record_id in expected.keys() & actual.keys()
            if expected[record_id] != actual[record_id]
        ),
    )


def _check_pairs(
    table: str, plan: StagePlan, existing: Existing, keys: Mapping[uuid.UUID, str]
) -> TableCheck:
    def named(pairs: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> set[str]:
        return {f"{keys.get(parent, parent)}→{keys.get(child, child)}" for parent, child in pairs}

    def migrated(parent: uuid.UUID) -> bool:
        return parent in keys and not keys[parent].startswith("v2:")

    expected = named(plan.pairs.get(table, set()))
    actual = named(pair for pair in existing.pairs.get(table, set()) if migrated(pair[0]))
    return TableCheck(
        table,
        airtable=len(expected) + plan.links_dropped.get(table, 0),
        postgres=len(actual),
        quarantined=plan.links_dropped.get(table, 0),
        missing=sorted(expected - actual),
        extra=sorted(actual - expected),
    )


def _relations(
    existing: Existing, keys: Mapping[uuid.UUID, str]
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Every migrated link in PostgreSQL, as (record id, linked record id) per v1 link."""
    relations: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for (table, link_field), (target, column) in LINKS.items():
        pairs: set[tuple[str, str]] = set()
        if target in JOIN_TABLES:
            for parent, child in existing.pairs.get(target, set()):
                if parent in keys and child in keys:
                    pairs.add((keys[parent], keys[child]))
        else:
            for record_id, row in existing.rows.get(target, {}).items():
                if row[column] in keys:
                    pairs.add((record_id, keys[row[column]]))
        relations[(table, link_field)] = pairs
    return relations


def _unaccounted(
    table: str,
    record_id: str,
    link_field: str,
    linked: str,
    relations: Mapping[tuple[str, str], set[tuple[str, str]]],
    not_landed: Mapping[str, set[str]],
    dropped: set[tuple[str, str, str, str]],
    alias: Mapping[str, str],
    inverse: str | None = None,
) -> str | None:
    """None if the link is in PostgreSQL or accounted for by the quarantine, else why not."""
    target_table = LINK_TARGET[link_field]
    resolved = alias.get(linked, linked) if target_table == "users" else linked
    if (record_id, resolved) in relations[(table, link_field)]:
        return None
    if record_id in not_landed[table] or linked in not_landed[target_table]:
        return None
    if (table, record_id, link_field, linked) in dropped:
        return None
    side = f" (seen from {inverse})" if inverse else ""
    return f"{table}.{link_field}: {record_id} → {linked} is neither migrated nor quarantined{side}"


def _check_quarantine(plans: Mapping[str, StagePlan], existing: Existing) -> TableCheck:
    expected = {entry.key: entry for plan in plans.values() for entry in plan.entries}
    actual = existing.quarantine

    def name(key: tuple[str, str, str]) -> str:
        return f"{key[0]}/{key[1]}/{key[2]}"

    return TableCheck(
        "backfill_quarantine",
        airtable=len(expected),
        postgres=len(actual),
        missing=sorted(name(key) for key in expected.keys() - actual.keys()),
        extra=sorted(name(key) for key in actual.keys() - expected.keys()),
        mismatched=sorted(
            name(key) for key in expected.keys() & actual.keys() if expected[key] != actual[key]
        ),
    )
