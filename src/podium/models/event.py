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
from podium.models.phase import DEFAULT_PHASE, PHASES_SQL
from podium.models.user import User


class Event(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="events",
        constraints=[
            airtable_id_check(),
            ormar.CheckColumns("char_length(btrim(name)) >= 1", name="name_not_blank"),
            ormar.CheckColumns("slug ~ '^[-a-z0-9]{1,50}$'", name="slug_format"),
            ormar.CheckColumns(f"join_code ~ '{JOIN_CODE_PATTERN}'", name="join_code_format"),
            ormar.CheckColumns(f"phase IN ({PHASES_SQL})", name="phase_known"),
            ormar.IndexColumns("owner_id", name="ix_events_owner_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("events")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    name: str = ormar.String(max_length=200)
    slug: str = ormar.String(max_length=50, unique=True)
    description: str = ormar.String(max_length=500, default="", nullable=False, server_default="")
    join_code: str = ormar.String(max_length=16, unique=True)
    owner: User = ormar.ForeignKey(
        User,
        name="owner_id",
        nullable=False,
        ondelete="RESTRICT",
        related_name="owned_events",
    )
    # The lifecycle (podium.models.phase): v1's votable and leaderboard_enabled are derived
    # from phase and live_leaderboard, never stored.
    phase: str = ormar.String(
        max_length=16,
        default=DEFAULT_PHASE.value,
        nullable=False,
        server_default=DEFAULT_PHASE.value,
    )
    live_leaderboard: bool = ormar.Boolean(default=False, nullable=False, server_default="false")
    # v1 took projects at any time; an owner may close submissions while voting runs.
    submissions_open_during_voting: bool = ormar.Boolean(
        default=True, nullable=False, server_default="true"
    )
    demo_links_optional: bool = ormar.Boolean(default=False, nullable=False, server_default="false")
    ysws_checks_enabled: bool = ormar.Boolean(default=False, nullable=False, server_default="false")
    feature_flags: Any = JSONB(default=list, nullable=False, server_default="[]")
