from __future__ import annotations

import uuid
from datetime import date, datetime

import ormar

from podium.db import base_ormar_config
from podium.models.base import (
    airtable_id_check,
    airtable_id_field,
    pk_field,
    seq_field,
    timestamp_field,
)


class User(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="users",
        constraints=[
            airtable_id_check(),
            # Stored normalised, so a plain unique index makes case variants one user.
            ormar.CheckColumns("email = lower(btrim(email))", name="email_normalised"),
            ormar.CheckColumns(
                "char_length(btrim(first_name)) between 1 and 50",
                name="first_name_length",
            ),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("users")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    email: str = ormar.String(max_length=254, unique=True)
    display_name: str = ormar.String(max_length=100)
    first_name: str = ormar.String(max_length=50)
    last_name: str = ormar.String(max_length=100, default="", nullable=False, server_default="")
    phone: str = ormar.String(max_length=50, default="", nullable=False, server_default="")
    street_1: str = ormar.String(max_length=200, default="", nullable=False, server_default="")
    street_2: str = ormar.String(max_length=200, default="", nullable=False, server_default="")
    city: str = ormar.String(max_length=100, default="", nullable=False, server_default="")
    state: str = ormar.String(max_length=100, default="", nullable=False, server_default="")
    zip_code: str = ormar.String(max_length=20, default="", nullable=False, server_default="")
    country: str = ormar.String(max_length=100, default="", nullable=False, server_default="")
    dob: date | None = ormar.Date(nullable=True)
    # Bumped by "log out everywhere": an access token carrying an older `gen` (v1's carry none,
    # read as 0) is refused (podium.deps). v2 only: the backfill and write-back leave it alone.
    token_generation: int = ormar.Integer(default=0, nullable=False, server_default="0")
    # A platform admin: may use every organiser route of any event and the /superadmin/ routes.
    # Granted and revoked only by `podium admin grant|revoke EMAIL` (a shell on the server), never
    # through the API: no request body carries it. v2 only, like token_generation.
    is_superadmin: bool = ormar.Boolean(default=False, nullable=False, server_default="false")
