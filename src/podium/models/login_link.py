from __future__ import annotations

import uuid
from datetime import datetime

import ormar

from podium.db import base_ormar_config
from podium.models.base import pk_field, timestamp_field


class LoginLink(ormar.Model):
    """One magic link issued: its token's `jti`, used at most once, superseded by a newer one.

    Apart from login_mails (the throttle's ledger, pruned by its own window): a link lives for
    its own lifetime, and is pruned when the next link for the address is issued.
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="login_links",
        constraints=[
            ormar.IndexColumns("email", "created_at", name="ix_login_links_email_created_at")
        ],
    )

    id: uuid.UUID = pk_field()
    created_at: datetime = timestamp_field()
    email: str = ormar.String(max_length=254)
    expires_at: datetime = ormar.DateTime(timezone=True)
    used_at: datetime | None = ormar.DateTime(timezone=True, nullable=True)
