from __future__ import annotations

import uuid
from datetime import datetime

import ormar

from podium.db import base_ormar_config
from podium.models.base import pk_field, timestamp_field


class LoginMail(ormar.Model):
    """One magic-link mail sent; counted per address to throttle, shared by every worker."""

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="login_mails",
        constraints=[
            ormar.IndexColumns("email", "created_at", name="ix_login_mails_email_created_at")
        ],
    )

    id: uuid.UUID = pk_field()
    created_at: datetime = timestamp_field()
    email: str = ormar.String(max_length=254)
