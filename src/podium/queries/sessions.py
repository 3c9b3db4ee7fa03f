"""Ending access tokens: one (a revoked_tokens row until it expires), or all of a user's (their
token generation moves on)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, bindparam, delete, func, update
from sqlalchemy.dialects import postgresql

from podium.db import Transaction
from podium.models import RevokedToken, User
from podium.queries.statement import Statement

revoked = RevokedToken.ormar_config.table
users = User.ormar_config.table

_USER_ID = bindparam("user_id", type_=postgresql.UUID(as_uuid=True))

# A revoked token past its expiry would be refused anyway: the user's are pruned at each logout.
_REVOKE = Statement(
    postgresql.insert(revoked)
    .values(
        token_id=bindparam("token_id", type_=postgresql.UUID(as_uuid=True)),
        user_id=_USER_ID,
        expires_at=bindparam("expires_at", type_=DateTime(timezone=True)),
    )
    .on_conflict_do_nothing(index_elements=[revoked.c.token_id])
    .add_cte(
        delete(revoked)
        .where(revoked.c.user_id == _USER_ID, revoked.c.expires_at <= func.now())
        .cte("expired")
    )
)
# The new generation refuses every older token, the revoked ones included: their rows can go.
_END_ALL = Statement(
    update(users)
    .where(users.c.id == _USER_ID)
    .values(token_generation=users.c.token_generation + 1)
    .returning(users.c.token_generation)
    .add_cte(delete(revoked).where(revoked.c.user_id == _USER_ID).cte("superseded"))
)


async def revoke(
    tx: Transaction, token_id: uuid.UUID, user_id: uuid.UUID, expires_at: datetime
) -> None:
    await _REVOKE.execute(tx, token_id=token_id, user_id=user_id, expires_at=expires_at)


async def end_all(tx: Transaction, user_id: uuid.UUID) -> int | None:
    """Move the user to a new token generation; it, or None if the user is gone."""
    generation: int | None = await _END_ALL.fetchval(tx, user_id=user_id)
    return generation
