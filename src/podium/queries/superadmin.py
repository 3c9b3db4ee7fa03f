"""The platform admin's statements: the superadmin flag, searching and paging all events and
users, ownership transfer.

The lists are keyset-paged on `(created_at, seq)` like podium.queries.admin; the search is a
case-insensitive substring match (ILIKE, its wildcards escaped), an empty search matching every
row. A scan of the table: these are rare, human-driven reads, not worth a trigram index yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    any_,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record, Transaction
from podium.models import Event, User
from podium.queries.keyset import by_creation
from podium.queries.statement import Statement

users = User.ormar_config.table
events = Event.ormar_config.table

_PATTERN = bindparam("pattern", type_=String)
_ESCAPE = "\\"


def like_pattern(text: str) -> str:
    """`text` as an ILIKE substring pattern, its own `%`, `_` and `\\` matched literally."""
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def _matches(*columns: Any) -> Any:
    return or_(*(column.ilike(_PATTERN, escape=_ESCAPE) for column in columns))


_owner = users.alias("owner")
_EVENTS = by_creation(
    select(
        events.c.seq,
        events.c.created_at,
        events.c.name,
        events.c.slug,
        events.c.phase,
        _owner.c.seq.label("owner_seq"),
        _owner.c.email.label("owner_email"),
        _owner.c.display_name.label("owner_display_name"),
    )
    .select_from(events.join(_owner, _owner.c.id == events.c.owner_id))
    .where(_matches(events.c.name, events.c.slug)),
    events,
)
_USERS = by_creation(
    select(
        users.c.seq,
        users.c.created_at,
        users.c.email,
        users.c.display_name,
        users.c.first_name,
        users.c.last_name,
        users.c.is_superadmin,
    ).where(_matches(users.c.email, users.c.display_name, users.c.first_name, users.c.last_name)),
    users,
)
SuperadminList = Literal["events", "users"]
LISTS: dict[SuperadminList, tuple[Statement, Statement]] = {"events": _EVENTS, "users": _USERS}

_SET_SUPERADMIN = Statement(
    update(users)
    .where(users.c.email == bindparam("email"))
    .values(is_superadmin=bindparam("value", type_=Boolean))
    .returning(users.c.seq)
)
_USER_ID_BY_SEQ = Statement(select(users.c.id).where(users.c.seq == bindparam("seq")))
# The owner's seq by a subquery, not a join: a transfer that waited for the lock re-reads the
# event row only, and a join would then still pair it with the former owner's row and find
# nothing (PostgreSQL's re-check of locked rows under READ COMMITTED).
_OWNER_SEQ_FOR_CHANGE = Statement(
    select(select(users.c.seq).where(users.c.id == events.c.owner_id).scalar_subquery())
    .where(events.c.id == bindparam("event_id", type_=postgresql.UUID(as_uuid=True)))
    .with_for_update(key_share=True)
)
_EVENTS_BY_SEQ = Statement(
    select(events.c.id, events.c.seq, events.c.name, events.c.slug).where(
        events.c.seq == any_(bindparam("seqs", type_=postgresql.ARRAY(BigInteger)))
    )
)
_SET_OWNER = Statement(
    update(events)
    .where(events.c.id == bindparam("event_id", type_=postgresql.UUID(as_uuid=True)))
    .values(owner_id=bindparam("owner_id", type_=postgresql.UUID(as_uuid=True)))
    .returning(events.c.id)
)


async def page(
    db: Executor,
    which: SuperadminList,
    pattern: str,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[Record]:
    """Up to `limit` rows of the list `which` matching `pattern` (like_pattern) after `after`."""
    first, following = LISTS[which]
    if after is None:
        return await first.fetch(db, pattern=pattern, page_limit=limit)
    created_at, seq = after
    return await following.fetch(
        db, pattern=pattern, page_limit=limit, after_created_at=created_at, after_seq=seq
    )


async def set_superadmin(tx: Transaction, email: str, value: bool) -> int | None:
    """Grant (`value`) or revoke the flag of the user with this email: the user's seq, or None
    if there is no such user."""
    seq: int | None = await _SET_SUPERADMIN.fetchval(tx, email=email, value=value)
    return seq


async def user_id_by_seq(db: Executor, seq: int) -> uuid.UUID | None:
    found: uuid.UUID | None = await _USER_ID_BY_SEQ.fetchval(db, seq=seq)
    return found


async def events_by_seq(db: Executor, seqs: list[int]) -> list[Record]:
    """(id, seq, name, slug) of the events with these seqs that exist, in no order."""
    return await _EVENTS_BY_SEQ.fetch(db, seqs=seqs)


async def owner_seq_for_change(tx: Transaction, event_id: uuid.UUID) -> int | None:
    """The seq of the event's owner, the event locked FOR NO KEY UPDATE; None if it is gone."""
    found: int | None = await _OWNER_SEQ_FOR_CHANGE.fetchval(tx, event_id=event_id)
    return found


async def set_owner(tx: Transaction, event_id: uuid.UUID, owner_id: uuid.UUID) -> bool:
    """Make `owner_id` the event's owner; False if the event is gone."""
    return await _SET_OWNER.fetchval(tx, event_id=event_id, owner_id=owner_id) is not None
