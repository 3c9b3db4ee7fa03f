"""Events with their owner's public ID; the owner's view adds the join code and counts."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record, Transaction
from podium.models import Event, EventAttendee, Project, User
from podium.queries.statement import Statement

events = Event.ormar_config.table
owners = User.ormar_config.table.alias("owner")
attendees = EventAttendee.ormar_config.table
projects = Project.ormar_config.table

# Every query returns a bounded number of rows: the ceiling of GET /events/'s two lists.
MAX_LISTED_EVENTS = 1000
_UUID = postgresql.UUID(as_uuid=True)

# feature_flags (jsonb) arrives decoded.
_PUBLIC: list[ColumnElement[Any]] = [
    events.c.id,
    events.c.seq,
    events.c.name,
    events.c.slug,
    events.c.description,
    events.c.votable,
    events.c.leaderboard_enabled,
    events.c.demo_links_optional,
    events.c.ysws_checks_enabled,
    events.c.feature_flags,
    events.c.join_code,
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
    ),
    private=False,
    listed=True,
)
_ID_OF_SLUG = Statement(select(events.c.seq).where(events.c.slug == bindparam("slug")))
_ID_OF_JOIN_CODE_LOCKED = Statement(
    select(events.c.id)
    .where(events.c.join_code == bindparam("code"))
    .with_for_update(read=True, key_share=True)
)
_DELETE = Statement(sqlalchemy.delete(events).where(events.c.id == bindparam("id", type_=_UUID)))


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


async def seq_of_slug(db: Executor, slug: str) -> int | None:
    row = await _ID_OF_SLUG.fetchrow(db, slug=slug)
    return None if row is None else int(row["seq"])


async def id_of_join_code_locked(tx: Transaction, code: str) -> uuid.UUID | None:
    """The event with this join code, locked FOR KEY SHARE (it cannot be deleted until `tx`
    ends; edits may go on)."""
    event_id: uuid.UUID | None = await _ID_OF_JOIN_CODE_LOCKED.fetchval(tx, code=code)
    return event_id


async def delete_by_id(tx: Transaction, event_id: uuid.UUID) -> None:
    await _DELETE.execute(tx, id=event_id)
