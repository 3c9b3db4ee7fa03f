"""The trash: events and projects deleted by their owner, kept whole until purged.

A trashed row and everything under it is *moved* out of the live tables into one `trash` row
(`rows`: every column of every row, per table), so no read, count or leaderboard needs a filter
to leave it out. `trash_reservations` keeps the slug and join codes of what is in the trash
taken until it is purged, so a restore never collides (docs/trash.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import ormar
import sqlalchemy

from podium.db import JSONB, NativeUUID, base_ormar_config
from podium.models.base import pk_field, seq_field, timestamp_field

TRASH_KINDS = ("event", "project")
# What a reservation holds: an event's slug, an event's join code, a project's join code.
# Three namespaces, as the live tables have three unique constraints.
RESERVATION_KINDS = ("event_slug", "event_join_code", "project_join_code")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class TrashEntry(ormar.Model):
    """One deleted event or project with every row that went with it.

    `owner_id` is the trashed event's or project's owner: who may restore it, and whose account
    deletion purges it (ON DELETE CASCADE). `parent_id` links a project trashed on its own to
    the entry of its event once that is trashed too: purging the event purges it (CASCADE), and
    it can be restored only after the event is.
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="trash",
        constraints=[
            ormar.CheckColumns(_in("kind", TRASH_KINDS), name="kind_known"),
            ormar.IndexColumns("owner_id", "deleted_at", name="ix_trash_owner_id_deleted_at"),
            ormar.IndexColumns("deleted_at", "seq", name="ix_trash_deleted_at_seq"),
            ormar.IndexColumns("purge_after", name="ix_trash_purge_after"),
            ormar.IndexColumns("event_id", name="ix_trash_event_id"),
            ormar.IndexColumns("parent_id", name="ix_trash_parent_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("trash")
    kind: str = ormar.String(max_length=16)
    # The trashed event's or project's id (and seq, for its public ID in the lists).
    item_id: uuid.UUID = NativeUUID(unique=True)
    item_seq: int = ormar.BigInteger()
    name: str = ormar.String(max_length=200)
    # The event of the trashed row (the event itself for an event entry); no FK: it may be in
    # the trash too.
    event_id: uuid.UUID = NativeUUID()
    event_seq: int = ormar.BigInteger()
    owner_id: uuid.UUID = NativeUUID()
    deleted_by: uuid.UUID | None = NativeUUID(nullable=True)
    deleted_at: datetime = timestamp_field()
    purge_after: datetime = ormar.DateTime(timezone=True)
    parent_id: uuid.UUID | None = NativeUUID(nullable=True)
    # {table name: [row, …]}, each row every column of the model as jsonb_build_object made it.
    rows: Any = JSONB(nullable=False)


class TrashReservation(ormar.Model):
    """A slug or join code of a trashed row: taken for every writer until its entry goes."""

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="trash_reservations",
        constraints=[
            ormar.CheckColumns(_in("kind", RESERVATION_KINDS), name="kind_known"),
            ormar.UniqueColumns("kind", "value", name="uq_trash_reservations_kind_value"),
            ormar.IndexColumns("trash_id", name="ix_trash_reservations_trash_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    kind: str = ormar.String(max_length=32)
    value: str = ormar.String(max_length=50)
    trash_id: uuid.UUID = NativeUUID()


_trash = TrashEntry.ormar_config.table
for column, ondelete in (("owner_id", "CASCADE"), ("deleted_by", "SET NULL")):
    _trash.append_constraint(
        sqlalchemy.ForeignKeyConstraint(
            [column], ["users.id"], name=f"fk_trash_{column}_users", ondelete=ondelete
        )
    )
_trash.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["parent_id"], ["trash.id"], name="fk_trash_parent_id_trash", ondelete="CASCADE"
    )
)
TrashReservation.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["trash_id"], ["trash.id"], name="fk_trash_reservations_trash_id_trash", ondelete="CASCADE"
    )
)
