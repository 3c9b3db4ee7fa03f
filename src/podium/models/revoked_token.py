from __future__ import annotations

import uuid
from datetime import datetime

import ormar

from podium.db import NativeUUID, base_ormar_config
from podium.models.user import User


class RevokedToken(ormar.Model):
    """An access token ended by POST /logout before its expiry (podium.security.token_id).

    Read by the current-user statement itself (a LEFT JOIN on the key), so a request pays no
    statement for it; a row is useless once its token expires and is pruned at the next logout.
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="revoked_tokens",
        constraints=[ormar.IndexColumns("user_id", name="ix_revoked_tokens_user_id")],
    )

    token_id: uuid.UUID = NativeUUID(primary_key=True)
    user: User = ormar.ForeignKey(
        User,
        name="user_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="revoked_tokens",
    )
    expires_at: datetime = ormar.DateTime(timezone=True)
