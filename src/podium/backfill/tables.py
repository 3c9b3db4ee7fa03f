"""What the backfill reads (v1 tables, in stage order) and writes (v2 tables and their columns).

The columns written come from the ormar models (`podium.models`), less an explicit list of those
the backfill leaves to the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy.dialects import postgresql

from podium.airtable_v1 import TABLES as V1_TABLES
from podium.models import Event, Project, Referral, User, Vote

# One stage per v1 table, in dependency order. The events stage also writes the attendees and
# the projects stage the collaborators, so each table is read once and the written order is
# users → events → attendees → projects → collaborators → referrals → votes.
STAGES = ("users", "events", "projects", "referrals", "votes")


@dataclass(frozen=True)
class RecordTable:
    """A v2 table whose rows come one per v1 record, keyed on `airtable_id`."""

    name: str
    # Columns the backfill writes besides `id` (UUID), with their PostgreSQL types for unnest().
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


@dataclass(frozen=True)
class JoinTable:
    """A v2 table whose rows come from a v1 link list, keyed on the pair (no airtable_id)."""

    name: str
    parent: str  # column of the record holding the link list (events.attendees → event_id)
    child: str


# The array type unnest() reads each column type as, by the name PostgreSQL's dialect compiles
# it to. VARCHAR(n) travels as text: a cast to varchar(n) would cut a long value silently, where
# the column itself refuses it.
_UNNEST_TYPES = {
    "TEXT": "text",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
    "UUID": "uuid",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "JSONB": "jsonb",
}


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped


def unnest_type(table: str, column: sqlalchemy.Column[Any]) -> str:
    compiled = column.type.compile(dialect=_DIALECT)
    if compiled.startswith("VARCHAR"):
        return "text"
    try:
        return _UNNEST_TYPES[compiled]
    except KeyError:
        raise TypeError(
            f"{table}.{column.name}: no unnest() type for {compiled}; add it to _UNNEST_TYPES"
        ) from None


def record_table(table: sqlalchemy.Table, not_written: Iterable[str]) -> RecordTable:
    """The model's columns in its order, less those the backfill does not write."""
    skipped = set(not_written)
    if stale := skipped - set(table.columns.keys()):
        raise ValueError(f"{table.name} has no column {', '.join(sorted(stale))}")
    return RecordTable(
        table.name,
        tuple(
            (column.name, unnest_type(table.name, column))
            for column in table.columns
            if column.name not in skipped
        ),
    )


# Every column of a record table's model is written from the v1 record (by the table's stage),
# except these. A new column is written too, so its stage must fill it (tests/backfill/
# test_columns.py names any it does not), or it is listed here with the reason.
_KEPT_BY_THE_DATABASE = (
    "id",  # written, but apart: the key every statement puts first (database.upsert_sql)
    "seq",  # the public ID's number: the table's sequence assigns it
    "updated_at",  # moved by the table's trigger whenever a row really changes
)
NOT_WRITTEN: dict[str, tuple[str, ...]] = {
    # token_generation: v2's "log out everywhere" state; a v1 record has none, and a re-run must
    # not reset it (which would bring logged-out tokens back). is_superadmin: v2's platform admin,
    # granted by `podium admin grant`; a re-run must not take it away.
    "users": (*_KEPT_BY_THE_DATABASE, "token_generation", "is_superadmin"),
    "events": _KEPT_BY_THE_DATABASE,
    "projects": _KEPT_BY_THE_DATABASE,
    "referrals": _KEPT_BY_THE_DATABASE,
    "votes": _KEPT_BY_THE_DATABASE,
}
USERS, EVENTS, PROJECTS, REFERRALS, VOTES = (
    record_table(model.ormar_config.table, NOT_WRITTEN[model.ormar_config.table.name])
    for model in (User, Event, Project, Referral, Vote)
)
# Join rows are their pair; the database fills in the rest (a v1 link has no id, record or
# creation time of its own). tests/backfill/test_columns.py checks these against the models.
JOIN_NOT_WRITTEN = ("id", "seq", "airtable_id", "created_at", "updated_at")
ATTENDEES = JoinTable("event_attendees", "event_id", "user_id")
COLLABORATORS = JoinTable("project_collaborators", "project_id", "user_id")

RECORD_TABLES = {table.name: table for table in (USERS, EVENTS, PROJECTS, REFERRALS, VOTES)}
JOIN_TABLES = {table.name: table for table in (ATTENDEES, COLLABORATORS)}

# The v2 tables each stage writes, in write order; the summary reports them in this order too.
STAGE_TARGETS: dict[str, tuple[str, ...]] = {
    "users": ("users",),
    "events": ("events", "event_attendees"),
    "projects": ("projects", "project_collaborators"),
    "referrals": ("referrals",),
    "votes": ("votes",),
}
TARGET_ORDER = tuple(target for stage in STAGES for target in STAGE_TARGETS[stage])

# Computed lookups (never migrated, only checked for error values), and what each stage reads:
# the v1 layout (podium.airtable_v1) plus a projects' back-link to its votes, which the projects
# stage counts to check the stored points.
COMPUTED_FIELDS: dict[str, tuple[str, ...]] = {table.name: table.lookups for table in V1_TABLES}
_READ_BACK_LINKS: dict[str, tuple[str, ...]] = {"projects": ("votes",)}
SOURCE_FIELDS: dict[str, tuple[str, ...]] = {
    table.name: (*table.fields, *_READ_BACK_LINKS.get(table.name, ()), *table.lookups)
    for table in V1_TABLES
}
# The other side of each migrated link (SPEC §4): `verify` checks these agree with the database.
INVERSE_LINKS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # v1 table → (its back-link field, owning table, owning field)
    "users": (
        ("votes", "votes", "voter"),
        ("projects", "projects", "owner"),
        ("collaborations", "projects", "collaborators"),
        ("owned_events", "events", "owner"),
        ("attending_events", "events", "attendees"),
        ("referral", "referrals", "user"),
    ),
    "events": (("projects", "projects", "event"), ("referrals", "referrals", "event")),
    "projects": (("votes", "votes", "project"),),
    "votes": (),
    "referrals": (),
}
