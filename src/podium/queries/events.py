"""Events with their owner's public ID; the owner's view adds the join code and counts."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.dialects import postgresql

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


async def by_id(event_id: uuid.UUID, *, private: bool) -> asyncpg.Record | None:
    return await _BY_ID[private].fetchrow(id=event_id)


async def by_seq(seq: int) -> asyncpg.Record | None:
    """The event page's only query."""
    return await _BY_SEQ.fetchrow(seq=seq)


async def owned_by(user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The events a user owns, newest first, with the owner's columns."""
    return await _OWNED_BY.fetch(user_id=user_id)


async def attended_by(user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The events a user attends, newest first."""
    return await _ATTENDED_BY.fetch(user_id=user_id)


async def seq_of_slug(slug: str) -> int | None:
    row = await _ID_OF_SLUG.fetchrow(slug=slug)
    return None if row is None else int(row["seq"])
