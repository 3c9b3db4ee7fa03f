"""Events with their owner's public ID; the owner's view adds the join code and counts.

v1's `votable` and `leaderboard_enabled` are not columns: every projection derives them from
the phase (`VOTABLE`, `LEADERBOARD_SHOWN`, podium.models.phase).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record, Transaction
from podium.models import Event, EventAttendee, Project, User
from podium.models.phase import Phase
from podium.queries.statement import Statement

events = Event.ormar_config.table
owners = User.ormar_config.table.alias("owner")
attendees = EventAttendee.ormar_config.table
projects = Project.ormar_config.table

# Every query returns a bounded number of rows: the ceiling of GET /events/'s two lists.
MAX_LISTED_EVENTS = 1000
_UUID = postgresql.UUID(as_uuid=True)

# podium.models.phase.votable and leaderboard_shown, in SQL.
VOTABLE: ColumnElement[bool] = events.c.phase == Phase.VOTING.value
LEADERBOARD_SHOWN: ColumnElement[bool] = sqlalchemy.or_(
    events.c.live_leaderboard, events.c.phase == Phase.CLOSED.value
)
NOT_DRAFT: ColumnElement[bool] = events.c.phase != Phase.DRAFT.value

# feature_flags (jsonb) arrives decoded.
_PUBLIC: list[ColumnElement[Any]] = [
    events.c.id,
    events.c.seq,
    events.c.name,
    events.c.slug,
    events.c.description,
    events.c.phase,
    events.c.live_leaderboard,
    events.c.submissions_open_during_voting,
    VOTABLE.label("votable"),
    LEADERBOARD_SHOWN.label("leaderboard_enabled"),
    events.c.demo_links_optional,
    events.c.ysws_checks_enabled,
    events.c.feature_flags,
    events.c.join_code,
    events.c.owner_id,
    owners.c.seq.label("owner_seq"),
]
_PRIVATE: list[ColumnElement[Any]] = [
    *_PUBLIC,
    select(func.count())
    .select_from(attendees)
    .where(attendees.c.event_id == events.c.id)
    .scalar_subquery()
    .label("attendee_count"),
    select(func.count())
    .select_from(projects)
    .where(projects.c.event_id == events.c.id)
    .scalar_subquery()
    .label("project_count"),
]


def _events(where: ColumnElement[bool], *, private: bool, listed: bool = False) -> Statement:
    query = (
        select(*(_PRIVATE if private else _PUBLIC))
        .select_from(events.join(owners, owners.c.id == events.c.owner_id))
        .where(where)
    )
    if listed:
        query = query.order_by(events.c.created_at.desc(), events.c.seq.desc()).limit(
            MAX_LISTED_EVENTS
        )
    return Statement(query)


_BY_ID = {
    private: _events(events.c.id == bindparam("id"), private=private) for private in (False, True)
}
_BY_SEQ = _events(events.c.seq == bindparam("seq"), private=False)
_OWNED_BY = _events(
    events.c.owner_id == bindparam("user_id", type_=_UUID), private=True, listed=True
)
_ATTENDED_BY = _events(
    events.c.id.in_(
        select(attendees.c.event_id).where(attendees.c.user_id == bindparam("user_id", type_=_UUID))
    )
    & NOT_DRAFT,
    private=False,
    listed=True,
)
_ID_OF_SLUG = Statement(
    select(events.c.seq, events.c.phase, events.c.owner_id).where(
        events.c.slug == bindparam("slug")
    )
)
# FOR SHARE: a phase change (an UPDATE of the row) waits for the join in flight, and a join
# arriving after it sees the new phase; the event cannot be deleted (moved to the trash) meanwhile either.
_JOINABLE_LOCKED = Statement(
    select(events.c.id, events.c.phase)
    .where(events.c.join_code == bindparam("code"))
    .with_for_update(read=True)
)
# What a project's create, join, edit or delete checks, share-locked for the same reason: a
# change arriving after submissions close is refused, one in flight finishes first.
_PROJECT_RULES = [
    events.c.id,
    events.c.seq,
    events.c.phase,
    events.c.submissions_open_during_voting,
    events.c.demo_links_optional,
    # Who organises it, and what the audit trail copies of it (an organiser's project delete).
    events.c.owner_id,
    events.c.seq,
    events.c.name,
]
_FOR_PROJECT_CHANGE = {
    column: Statement(
        select(*_PROJECT_RULES)
        .where(events.c[column] == bindparam("value"))
        .with_for_update(read=True)
    )
    for column in ("id", "seq")
}
# What an owner's edit may change, read before it under the lock (the audit trail's "before").
EDITABLE_COLUMNS = (
    "name",
    "description",
    "phase",
    "live_leaderboard",
    "submissions_open_during_voting",
    "demo_links_optional",
    "ysws_checks_enabled",
    "feature_flags",
)
# The owner's edit: the row locked against joins, project changes and votes in flight.
_FOR_CHANGE = Statement(
    select(*(events.c[name] for name in EDITABLE_COLUMNS))
    .where(events.c.id == bindparam("id", type_=_UUID))
    .with_for_update(key_share=True)
)
_HAS_MEMBERS = Statement(
    select(
        sqlalchemy.exists().where(attendees.c.event_id == bindparam("id", type_=_UUID))
        | sqlalchemy.exists().where(projects.c.event_id == bindparam("id", type_=_UUID))
    )
)


async def by_id(db: Executor, event_id: uuid.UUID, *, private: bool) -> Record | None:
    return await _BY_ID[private].fetchrow(db, id=event_id)


async def by_seq(db: Executor, seq: int) -> Record | None:
    """The event page's only query."""
    return await _BY_SEQ.fetchrow(db, seq=seq)


async def owned_by(db: Executor, user_id: uuid.UUID) -> list[Record]:
    """The events a user owns, newest first, with the owner's columns."""
    return await _OWNED_BY.fetch(db, user_id=user_id)


async def attended_by(db: Executor, user_id: uuid.UUID) -> list[Record]:
    """The events a user attends, newest first."""
    return await _ATTENDED_BY.fetch(db, user_id=user_id)


async def of_slug(db: Executor, slug: str) -> Record | None:
    """(seq, phase, owner_id) of the event with this slug."""
    return await _ID_OF_SLUG.fetchrow(db, slug=slug)


async def joinable_locked(tx: Transaction, code: str) -> Record | None:
    """(id, phase) of the event with this join code, locked FOR SHARE until `tx` ends."""
    return await _JOINABLE_LOCKED.fetchrow(tx, code=code)


async def for_project_change(tx: Transaction, column: str, value: object) -> Record | None:
    """(id, seq, phase, submissions_open_during_voting, demo_links_optional) of the event whose `id`
    or `seq` is `value`, locked FOR SHARE until `tx` ends."""
    return await _FOR_PROJECT_CHANGE[column].fetchrow(tx, value=value)


async def for_change(tx: Transaction, event_id: uuid.UUID) -> Record | None:
    """The event's EDITABLE_COLUMNS, the row locked FOR NO KEY UPDATE until `tx` ends."""
    return await _FOR_CHANGE.fetchrow(tx, id=event_id)


async def has_members(tx: Transaction, event_id: uuid.UUID) -> bool:
    """Whether anyone attends the event or it has a project (read after `for_change`)."""
    return bool(await _HAS_MEMBERS.fetchval(tx, id=event_id))
