"""Columns every table shares: UUID key, public-ID sequence, v1 record id, timestamps.

ormar has no per-table mixins, so each model lists these five lines itself through the
factories below.
"""

from __future__ import annotations

from typing import Any

import ormar
import sqlalchemy

from podium.db import NativeUUID, new_uuid

AIRTABLE_ID_PATTERN = "^rec[A-Za-z0-9]{14}$"


def seq_sequence_name(table: str) -> str:
    return f"{table}_seq_seq"


def pk_field() -> Any:
    return NativeUUID(
        primary_key=True,
        default=new_uuid,
        server_default=sqlalchemy.text("gen_random_uuid()"),
    )


def seq_field(table: str) -> Any:
    """The number behind the public ID: from a per-table sequence, so no two rows share one."""
    return ormar.BigInteger(
        unique=True,
        nullable=True,
        sql_nullable=False,
        autoincrement=False,
        server_default=sqlalchemy.text(f"nextval('{seq_sequence_name(table)}')"),
    )


def airtable_id_field() -> Any:
    return ormar.String(max_length=17, nullable=True, unique=True)


def timestamp_field() -> Any:
    return ormar.DateTime(
        timezone=True,
        nullable=True,
        sql_nullable=False,
        server_default=sqlalchemy.func.now(),
    )


def airtable_id_check() -> ormar.CheckColumns:
    return ormar.CheckColumns(f"airtable_id ~ '{AIRTABLE_ID_PATTERN}'", name="airtable_id_format")
