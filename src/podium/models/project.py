from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import ormar

from podium.db import JSONB, base_ormar_config
from podium.models.base import (
    airtable_id_check,
    airtable_id_field,
    pk_field,
    seq_field,
    timestamp_field,
)
from podium.models.constraints import JOIN_CODE_PATTERN
from podium.models.event import Event
from podium.models.user import User


class Project(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="projects",
        constraints=[
            airtable_id_check(),
            ormar.CheckColumns("char_length(btrim(name)) >= 1", name="name_not_blank"),
            ormar.CheckColumns("hours_spent >= 0", name="hours_spent_not_negative"),
            ormar.CheckColumns(f"join_code ~ '{JOIN_CODE_PATTERN}'", name="join_code_format"),
            # Target of the votes' (project_id, event_id) key: a vote's event is its project's.
            ormar.UniqueColumns("id", "event_id", name="uq_projects_id_event_id"),
            ormar.IndexColumns("event_id", name="ix_projects_event_id"),
            ormar.IndexColumns("owner_id", name="ix_projects_owner_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("projects")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    name: str = ormar.String(max_length=200)
    repo: str = ormar.String(max_length=2048, default="", nullable=False, server_default="")
    image_url: str = ormar.String(max_length=2048, default="", nullable=False, server_default="")
    demo: str = ormar.String(max_length=2048, default="", nullable=False, server_default="")
    description: str = ormar.Text(default="", nullable=False, server_default="")
    hours_spent: int = ormar.Integer(default=0, nullable=False, server_default="0")
    join_code: str = ormar.String(max_length=16, unique=True)
    owner: User = ormar.ForeignKey(
        User,
        name="owner_id",
        nullable=False,
        ondelete="RESTRICT",
        related_name="owned_projects",
    )
    event: Event = ormar.ForeignKey(
        Event,
        name="event_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="projects",
    )
    cached_auto_quality: Any = JSONB(nullable=True)
