"""PostgreSQL rows as v1 records, and how their values compare with Airtable's.

Which fields each table writes back is v1's layout, `podium.airtable_v1`.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from podium.airtable_v1 import BY_NAME, TABLES, V1Table
from podium.backfill.tables import JOIN_TABLES
from podium.models.phase import leaderboard_shown, votable


@dataclass
class Row:
    """One PostgreSQL row, rendered as the v1 record it stands for."""

    id: uuid.UUID
    airtable_id: str | None
    created_at: datetime
    updated_at: datetime
    fields: dict[str, Any]  # scalar and derived fields, v1 names and value shapes
    single: dict[str, uuid.UUID]  # single link → the linked row's id
    lists: dict[str, set[uuid.UUID]] = field(default_factory=dict)

    def changed_since(self, since: datetime) -> bool:
        return self.created_at > since or self.updated_at > since


# What every row is read with: its key, its v1 record, and when it was made and last changed.
_COMMON = ("id", "airtable_id", "created_at", "updated_at")
# v1 scalars kept in a v2 column of another name (the rest have the v2 column of their name).
_SCALAR_COLUMNS = {"events": {"feature_flags_csv": "feature_flags"}}
# v1 scalars v2 derives from other columns (one source of truth): the columns read for them.
# votable and leaderboard_enabled come from the phase (podium.models.phase); a draft writes
# back as neither, so it is open in v1: v1 has no drafts.
_DERIVED_SCALARS = {
    "events": {"votable": ("phase",), "leaderboard_enabled": ("phase", "live_leaderboard")}
}
# Single links: the v2 column holding the linked row's id.
SINGLE_COLUMNS = {
    "events": {"owner": "owner_id"},
    "projects": {"event": "event_id", "owner": "owner_id"},
    "votes": {"voter": "voter_id", "project": "project_id", "event": "event_id"},
    "referrals": {"user": "user_id", "event": "event_id"},
}
# Derived fields, computed from other tables.
_DERIVED_SQL = {
    "projects": {"points": "(SELECT count(*) FROM votes v WHERE v.project_id = t.id)"},
}
# v2 columns no v1 field stands for, so never read. Every other column of these tables' models
# is read above; tests/cutover/test_columns.py names any column that is neither.
NOT_READ: dict[str, tuple[str, ...]] = {
    table.name: ("seq",)  # the public ID's number: v1 has its own record ids
    for table in TABLES
}
# v2's sessions: v1 has no way to end a token.
NOT_READ["users"] = (*NOT_READ["users"], "token_generation")
# v2's platform admin (podium admin grant): v1 has no such role.
NOT_READ["users"] = (*NOT_READ["users"], "is_superadmin")
# v1 never closed submissions: it behaves as if this were always on.
NOT_READ["events"] = (*NOT_READ["events"], "submissions_open_during_voting")
# Link lists: the join table holding them, as the backfill writes it (its pair of columns).
LIST_TABLES = {
    ("events", "attendees"): JOIN_TABLES["event_attendees"],
    ("projects", "collaborators"): JOIN_TABLES["project_collaborators"],
}


def columns_read(spec: V1Table) -> tuple[str, ...]:
    """The v2 columns a table's rows are read with, for its scalars and single links."""
    renamed = _SCALAR_COLUMNS.get(spec.name, {})
    derived = _DERIVED_SCALARS.get(spec.name, {})
    scalars = [
        column for name in spec.scalars for column in derived.get(name, (renamed.get(name, name),))
    ]
    return (
        *_COMMON,
        *dict.fromkeys(scalars),
        *(SINGLE_COLUMNS.get(spec.name, {})[link] for link in spec.single_links),
    )


def _query(spec: V1Table) -> str:
    derived = _DERIVED_SQL.get(spec.name, {})
    selected = [*columns_read(spec), *(f"{sql} AS {name}" for name, sql in derived.items())]
    return f"SELECT {', '.join(selected)} FROM {spec.name} t"


_QUERIES = {spec.name: _query(spec) for spec in TABLES}
_LIST_QUERIES = {
    link: f"SELECT {join.parent}, {join.child} FROM {join.name}"
    for link, join in LIST_TABLES.items()
}


def _uuid(value: Any) -> uuid.UUID:
    # asyncpg's UUID type hashes like uuid.UUID but is another class; keep one kind in dicts.
    return uuid.UUID(bytes=value.bytes)


def _scalar_fields(table: str, record: Mapping[str, Any]) -> dict[str, Any]:
    spec = BY_NAME[table]
    values = {name: record[name] for name in spec.scalars if name in record}
    if table == "users":
        values["dob"] = record["dob"].isoformat() if record["dob"] is not None else ""
    elif table == "events":
        values["feature_flags_csv"] = ",".join(record["feature_flags"] or [])
        values["votable"] = votable(record["phase"])
        values["leaderboard_enabled"] = leaderboard_shown(
            record["phase"], record["live_leaderboard"]
        )
    elif table == "projects":
        quality = record["cached_auto_quality"]
        values["cached_auto_quality"] = "" if quality is None else json.dumps(quality)
        values["points"] = int(record["points"])
    return values


async def load_rows(conn: asyncpg.Connection) -> dict[str, dict[uuid.UUID, Row]]:
    """Every row of the five v1-backed tables, with its link lists; table → row id → row."""
    rows: dict[str, dict[uuid.UUID, Row]] = {}
    for spec in TABLES:
        loaded: dict[uuid.UUID, Row] = {}
        for record in await conn.fetch(_QUERIES[spec.name]):
            row_id = _uuid(record["id"])
            loaded[row_id] = Row(
                id=row_id,
                airtable_id=record["airtable_id"],
                created_at=record["created_at"],
                updated_at=record["updated_at"],
                fields=_scalar_fields(spec.name, record),
                single={
                    link: _uuid(record[column])
                    for link, column in SINGLE_COLUMNS.get(spec.name, {}).items()
                },
                lists={link: set() for link in spec.link_lists},
            )
        rows[spec.name] = loaded
    for (table, link), query in _LIST_QUERIES.items():
        members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        for parent, child in await conn.fetch(query):
            members[_uuid(parent)].add(_uuid(child))
        for row_id, row in rows[table].items():
            row.lists[link] = members.get(row_id, set())
    return rows


# -- comparing with what Airtable holds ------------------------------------------------------


def is_empty(value: Any) -> bool:
    """Airtable leaves these out of `fields`; 0 is a value."""
    return value is None or value is False or value == "" or value == []


def _flags(value: Any) -> list[str]:
    return [flag.strip() for flag in str(value).split(",") if flag.strip()]


def _json(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return _Unparsable


class _Unparsable:
    """What v1 text that is not JSON compares as: equal to nothing v2 holds."""


def same_value(name: str, wanted: Any, current: Any) -> bool:
    """Whether Airtable's `current` already says what v2's `wanted` says (a write would be noise).

    Lenient where v1 and v2 only differ in form: surrounding spaces, an email's case, a number
    written as 3.0 or left out for 0, feature flags spaced differently, JSON laid out differently.
    """
    if isinstance(wanted, int) and not isinstance(wanted, bool) and current is None:
        current = 0  # v1 reads an absent number (points, hours_spent) as 0
    if is_empty(wanted) or is_empty(current):
        return is_empty(wanted) and is_empty(current)
    if isinstance(wanted, bool):
        return current is True
    if isinstance(wanted, int):
        return (
            isinstance(current, int | float)
            and not isinstance(current, bool)
            and (current == wanted)
        )
    if not isinstance(current, str):
        return False
    if name == "email":
        return current.strip().lower() == str(wanted).strip().lower()
    if name == "feature_flags_csv":
        return _flags(current) == _flags(wanted)
    if name == "cached_auto_quality":
        return bool(_json(current) == _json(wanted))
    return current.strip() == str(wanted).strip()


def airtable_value(value: Any) -> Any:
    """The value to send: None clears a field (Airtable has no other "empty" for numbers)."""
    if value is False:
        return False
    return None if is_empty(value) else value
