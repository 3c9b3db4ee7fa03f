"""What the backfill reads (v1 tables, in stage order) and writes (v2 tables and their columns)."""

from __future__ import annotations

from dataclasses import dataclass

from podium.airtable_v1 import TABLES as V1_TABLES

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


_COMMON = (("airtable_id", "text"), ("created_at", "timestamptz"))

USERS = RecordTable(
    "users",
    (
        *_COMMON,
        ("email", "text"),
        ("display_name", "text"),
        ("first_name", "text"),
        ("last_name", "text"),
        ("phone", "text"),
        ("street_1", "text"),
        ("street_2", "text"),
        ("city", "text"),
        ("state", "text"),
        ("zip_code", "text"),
        ("country", "text"),
        ("dob", "date"),
    ),
)
EVENTS = RecordTable(
    "events",
    (
        *_COMMON,
        ("name", "text"),
        ("slug", "text"),
        ("description", "text"),
        ("join_code", "text"),
        ("owner_id", "uuid"),
        ("votable", "boolean"),
        ("leaderboard_enabled", "boolean"),
        ("demo_links_optional", "boolean"),
        ("ysws_checks_enabled", "boolean"),
        ("feature_flags", "jsonb"),
    ),
)
PROJECTS = RecordTable(
    "projects",
    (
        *_COMMON,
        ("name", "text"),
        ("repo", "text"),
        ("image_url", "text"),
        ("demo", "text"),
        ("description", "text"),
        ("hours_spent", "integer"),
        ("join_code", "text"),
        ("owner_id", "uuid"),
        ("event_id", "uuid"),
        ("cached_auto_quality", "jsonb"),
    ),
)
REFERRALS = RecordTable(
    "referrals", (*_COMMON, ("content", "text"), ("user_id", "uuid"), ("event_id", "uuid"))
)
VOTES = RecordTable(
    "votes", (*_COMMON, ("voter_id", "uuid"), ("project_id", "uuid"), ("event_id", "uuid"))
)
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
