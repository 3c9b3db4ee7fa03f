from __future__ import annotations

import uuid
from datetime import datetime

import ormar

from podium.db import base_ormar_config
from podium.models.base import (
    airtable_id_check,
    airtable_id_field,
    pk_field,
    seq_field,
    timestamp_field,
)
from podium.models.event import Event
from podium.models.user import User


class Referral(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="referrals",
        constraints=[
            airtable_id_check(),
            ormar.IndexColumns("event_id", name="ix_referrals_event_id"),
            ormar.IndexColumns("user_id", name="ix_referrals_user_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("referrals")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    content: str = ormar.Text()
    user: User = ormar.ForeignKey(
        User,
        name="user_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="referrals",
    )
    event: Event = ormar.ForeignKey(
        Event,
        name="event_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="referrals",
    )
