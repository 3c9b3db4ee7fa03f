"""v1's Airtable base (SPEC §4), table by table: one description for the backfill and the cutover.

Per table: scalar fields, single links (`owner`, `event`, `voter`, ...), link lists on the owning
side (`events.attendees`, `projects.collaborators`), derived fields (`projects.points`) and
computed lookups. The backfill reads these fields; the cutover's write-back writes all but the
lookups. Airtable keeps the other side of every link (a user's `attending_events`, ...) itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class V1Table:
    name: str  # the v1 table, and the v2 table of the same name
    scalars: tuple[str, ...]
    single_links: Mapping[str, str]  # v1 field → linked v1 table
    link_lists: Mapping[str, str] = field(default_factory=dict)
    # Written whenever it differs, like link lists: no row's updated_at moves when it changes.
    derived: tuple[str, ...] = ()
    # Airtable's computed lookups (`owner_id`, ...): never written, only read and checked.
    lookups: tuple[str, ...] = ()

    @property
    def fields(self) -> list[str]:
        """The fields v2 writes back (everything but the lookups)."""
        return [*self.scalars, *self.single_links, *self.link_lists, *self.derived]


USERS = V1Table(
    "users",
    (
        "email",
        "display_name",
        "first_name",
        "last_name",
        "phone",
        "street_1",
        "street_2",
        "city",
        "state",
        "zip_code",
        "country",
        "dob",
    ),
    {},
)
EVENTS = V1Table(
    "events",
    (
        "name",
        "description",
        "slug",
        "join_code",
        "votable",
        "leaderboard_enabled",
        "demo_links_optional",
        "ysws_checks_enabled",
        "feature_flags_csv",
    ),
    {"owner": "users"},
    {"attendees": "users"},
    lookups=("owner_id",),
)
PROJECTS = V1Table(
    "projects",
    (
        "name",
        "repo",
        "image_url",
        "demo",
        "description",
        "hours_spent",
        "join_code",
        "cached_auto_quality",
    ),
    {"event": "events", "owner": "users"},
    {"collaborators": "users"},
    ("points",),
    lookups=("event_id", "owner_id", "owner_display_name", "collaborator_display_names"),
)
VOTES = V1Table(
    "votes",
    (),
    {"voter": "users", "project": "projects", "event": "events"},
    lookups=("user_id", "event_id", "project_id"),
)
REFERRALS = V1Table(
    "referrals", ("content",), {"user": "users", "event": "events"}, lookups=("event_id",)
)

# Creation order: a record's links point only at tables before it.
TABLES: tuple[V1Table, ...] = (USERS, EVENTS, PROJECTS, VOTES, REFERRALS)
BY_NAME = {table.name: table for table in TABLES}
