"""Magic links: issued (one row each), used at most once, superseded by the address's newer link.

Times are `clock_timestamp()`, like the throttle's: links for one address are issued under the
throttle's lock on the address, so their `created_at` order is the order they were issued in.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import (
    Float,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record, Transaction
from podium.models import LoginLink, User
from podium.queries.statement import Statement

links = LoginLink.ormar_config.table
users = User.ormar_config.table
newer = links.alias("newer")

_EMAIL = bindparam("email", type_=String)
_ID = bindparam("id", type_=postgresql.UUID(as_uuid=True))
_NOW = func.clock_timestamp()
_LIFETIME = func.make_interval(*[literal_column("0")] * 6, bindparam("lifetime", type_=Float))

_SUPERSEDED = exists().where(
    newer.c.email == links.c.email, newer.c.created_at > links.c.created_at
)

# Issuing a link prunes the address's expired ones: the table holds live links only.
_ISSUE = Statement(
    insert(links)
    .values(id=func.gen_random_uuid(), email=_EMAIL, created_at=_NOW, expires_at=_NOW + _LIFETIME)
    .returning(links.c.id)
    .add_cte(
        delete(links).where(links.c.email == _EMAIL, links.c.expires_at <= _NOW).cte("expired")
    )
)
# One conditional UPDATE decides: of any number of concurrent uses of a link, the first to lock
# the row marks it used, and the others, re-checking the row after that commit, match nothing.
_USE = Statement(
    update(links)
    .where(
        links.c.id == _ID,
        links.c.email == _EMAIL,
        links.c.used_at.is_(None),
        links.c.expires_at > _NOW,
        ~_SUPERSEDED,
        users.c.email == links.c.email,
    )
    .values(used_at=_NOW)
    .returning(*users.columns)
)
# Why a link was not usable (the failure path only).
_STATE = Statement(
    select(
        links.c.used_at.is_not(None).label("used"),
        _SUPERSEDED.label("superseded"),
        (links.c.expires_at <= _NOW).label("expired"),
        exists().where(users.c.email == links.c.email).label("has_user"),
    ).where(links.c.id == _ID, links.c.email == _EMAIL)
)
_WITHDRAW = Statement(delete(links).where(links.c.id == _ID))
_FORGET_ADDRESS = Statement(delete(links).where(links.c.email == _EMAIL))


class LinkState(NamedTuple):
    used: bool
    superseded: bool
    expired: bool
    has_user: bool


async def issue(tx: Transaction, email: str, lifetime_seconds: float) -> uuid.UUID:
    """A new link's id (its token's `jti`); it supersedes the address's older links."""
    link_id: uuid.UUID = await _ISSUE.fetchval(tx, email=email, lifetime=lifetime_seconds)
    return link_id


async def use(db: Executor, link_id: uuid.UUID, email: str) -> Record | None:
    """Mark the link used and return its user's row; None if it cannot be used (any reason)."""
    return await _USE.fetchrow(db, id=link_id, email=email)


async def state(db: Executor, link_id: uuid.UUID, email: str) -> LinkState | None:
    """What stands in the way of a link; None if there is no such link (pruned, withdrawn)."""
    row = await _STATE.fetchrow(db, id=link_id, email=email)
    return None if row is None else LinkState(*row)


async def withdraw(db: Executor, link_id: uuid.UUID) -> None:
    """Forget a link whose mail was not sent (it must not supersede the one before it)."""
    await _WITHDRAW.execute(db, id=link_id)


async def forget_address(tx: Transaction, email: str) -> None:
    """Drop every link of an address (its account is being deleted)."""
    await _FORGET_ADDRESS.execute(tx, email=email)
