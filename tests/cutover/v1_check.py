"""What v1 would show, compared with PostgreSQL: records, fields and links, by v1 record id.

Independent of the write-back's own code: plain SQL on one side, the fake's records on the other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg

from podium_devtools.fake_airtable import FakeAirtable

# v2 column → v1 field, per table (scalars compared as text, stripped).
SCALARS = {
    "users": {"email": "email", "first_name": "first_name", "display_name": "display_name"},
    "events": {"name": "name", "slug": "slug", "join_code": "join_code", "votable": "votable"},
    "projects": {"name": "name", "join_code": "join_code", "demo": "demo"},
    "votes": {},
    "referrals": {"content": "content"},
}
# v1's booleans are derived in v2 (#16): votable is the voting phase.
_SOURCES = {"events": "(SELECT *, phase = 'voting' AS votable FROM events) events"}
SINGLE_LINKS = {
    "users": {},
    "events": {"owner": ("owner_id", "users")},
    "projects": {"event": ("event_id", "events"), "owner": ("owner_id", "users")},
    "votes": {
        "voter": ("voter_id", "users"),
        "project": ("project_id", "projects"),
        "event": ("event_id", "events"),
    },
    "referrals": {"user": ("user_id", "users"), "event": ("event_id", "events")},
}
LINK_LISTS = {
    ("events", "attendees"): ("event_attendees", "event_id", "events", "user_id", "users"),
    ("projects", "collaborators"): (
        "project_collaborators",
        "project_id",
        "projects",
        "user_id",
        "users",
    ),
}


def _same(wanted: Any, current: Any) -> bool:
    if wanted in (None, "", False) or current in (None, "", False):
        return wanted in (None, "", False) and current in (None, "", False)
    if isinstance(wanted, bool):
        return current is True
    return str(current).strip().lower() == str(wanted).strip().lower()


async def v1_differences(
    fake: FakeAirtable, database_url: str, *, rows: dict[str, set[str]] | None = None
) -> list[str]:
    """Every way the base differs from PostgreSQL; `rows` limits field checks to these records.

    Always checked: every row has its record, link lists name exactly the rows' relations (among
    records that are rows), and a project's points equal the votes linked to it. A link to a
    user record the backfill merged into another (same email) counts as a link to the survivor.
    """
    base = {name: {r["id"]: r["fields"] for r in records} for name, records in fake.tables.items()}
    problems: list[str] = []
    conn = await asyncpg.connect(database_url)
    try:
        survivor = {
            row["record_id"]: row["related_record_id"]
            for row in await conn.fetch(
                "SELECT record_id, related_record_id FROM backfill_quarantine "
                "WHERE disposition = 'merged' AND related_record_id IS NOT NULL"
            )
        }

        def linked(fields: dict[str, Any], name: str) -> list[str]:
            return [survivor.get(record_id, record_id) for record_id in fields.get(name) or []]

        record_of: dict[str, dict[Any, str]] = {}
        for table in SCALARS:
            columns = [
                "id",
                "airtable_id",
                *SCALARS[table],
                *(c for c, _ in SINGLE_LINKS[table].values()),
            ]
            source = _SOURCES.get(table, table)
            found = await conn.fetch(f"SELECT {', '.join(columns)} FROM {source}")
            record_of[table] = {row["id"]: row["airtable_id"] for row in found}
            for row in found:
                record_id = row["airtable_id"]
                if record_id is None or record_id not in base[table]:
                    problems.append(f"{table} row {row['id']} has no v1 record ({record_id})")
                    continue
                if rows is not None and record_id not in rows.get(table, set()):
                    continue
                fields = base[table][record_id]
                for column, name in SCALARS[table].items():
                    if not _same(row[column], fields.get(name)):
                        problems.append(
                            f"{table} {record_id}.{name}: v1 {fields.get(name)!r}, v2 {row[column]!r}"
                        )
                for name, (column, target) in SINGLE_LINKS[table].items():
                    wanted = record_of[target].get(row[column])
                    if (linked(fields, name) or [None])[0] != wanted:
                        problems.append(
                            f"{table} {record_id}.{name}: v1 {fields.get(name)}, v2 {wanted}"
                        )
        for (table, link), (join, parent, _, child, target) in LINK_LISTS.items():
            wanted: dict[str, set[str]] = defaultdict(set)
            for pair in await conn.fetch(f"SELECT {parent}, {child} FROM {join}"):
                wanted[record_of[table][pair[parent]]].add(record_of[target][pair[child]])
            rows_of_target = set(record_of[target].values())
            for record_id in record_of[table].values():
                if record_id not in base[table]:
                    continue
                members = set(linked(base[table][record_id], link)) & rows_of_target
                if members != wanted.get(record_id, set()):
                    problems.append(
                        f"{table} {record_id}.{link}: v1 {sorted(members)}, "
                        f"v2 {sorted(wanted.get(record_id, set()))}"
                    )
        for record_id in record_of["projects"].values():
            fields = base["projects"].get(record_id)
            if fields is not None and fields.get("points", 0) != len(fields.get("votes") or []):
                problems.append(
                    f"projects {record_id}.points: {fields.get('points')} but "
                    f"{len(fields.get('votes') or [])} votes"
                )
    finally:
        await conn.close()
    return problems
