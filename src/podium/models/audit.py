from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import ormar
import sqlalchemy

from podium.db import JSONB, NativeUUID, base_ormar_config
from podium.models.base import pk_field, seq_field, timestamp_field


class AuditAction(StrEnum):
    """What an audit event records (docs/audit.md); stored by value, so never rename one."""

    EVENT_CREATED_FOR = "event_created_for"
    EVENT_UPDATED = "event_updated"
    PHASE_CHANGED = "phase_changed"
    EVENT_DELETED = "event_deleted"
    ATTENDEE_REMOVED = "attendee_removed"
    PROJECT_DELETED = "project_deleted"
    OWNER_TRANSFERRED = "owner_transferred"
    FEATURE_FLAGS_CHANGED = "feature_flags_changed"
    EXPORTED = "exported"
    EVENT_RESTORED = "event_restored"
    PROJECT_RESTORED = "project_restored"
    TRASH_PURGED = "trash_purged"
    SUPERADMIN_GRANTED = "superadmin_granted"
    SUPERADMIN_REVOKED = "superadmin_revoked"


class ActorRole(StrEnum):
    """In which capacity the actor acted: the event's owner, a superadmin, or the server's CLI."""

    OWNER = "owner"
    SUPERADMIN = "superadmin"
    CLI = "cli"


class TargetKind(StrEnum):
    USER = "user"
    PROJECT = "project"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"


class AuditEvent(ormar.Model):
    """One organiser or superadmin action, written in the transaction of the change itself.

    Built to outlive what it describes: the actor's email, the event's name and the public-ID
    numbers (`*_seq`) are copies, and `event_id` is no foreign key, so deleting the event or
    the actor's account leaves the trail readable (the actor's `actor_id` becomes NULL).
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="audit_events",
        constraints=[
            ormar.CheckColumns(_in("actor_role", ActorRole), name="actor_role_known"),
            ormar.CheckColumns(_in("action", AuditAction), name="action_known"),
            ormar.CheckColumns(_in("target_kind", TargetKind), name="target_kind_known"),
            # An event's trail in its order (GET /events/admin/{id}/audit, ?event= filter).
            ormar.IndexColumns(
                "event_seq", "created_at", "seq", name="ix_audit_events_event_seq_created_at"
            ),
            # Everything in its order (GET /superadmin/audit).
            ormar.IndexColumns("created_at", "seq", name="ix_audit_events_created_at_seq"),
            # The ON DELETE SET NULL of an account's deletion, which would scan the table else.
            ormar.IndexColumns("actor_id", name="ix_audit_events_actor_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("audit_events")
    created_at: datetime = timestamp_field()

    # NULL for the CLI, and once the actor's account is deleted (ON DELETE SET NULL).
    actor_id: uuid.UUID | None = NativeUUID(nullable=True)
    actor_seq: int | None = ormar.BigInteger(nullable=True)
    actor_email: str | None = ormar.String(max_length=254, nullable=True)
    actor_role: str = ormar.String(max_length=16)

    event_id: uuid.UUID | None = NativeUUID(nullable=True)
    event_seq: int | None = ormar.BigInteger(nullable=True)
    event_name: str | None = ormar.String(max_length=200, nullable=True)

    action: str = ormar.String(max_length=32)
    target_kind: str | None = ormar.String(max_length=16, nullable=True)
    target_seq: int | None = ormar.BigInteger(nullable=True)
    # What changed: {field: [old, new]} for edits, {export, rows} for exports; never a secret.
    changes: Any = JSONB(nullable=False, server_default=sqlalchemy.text("'{}'::jsonb"))


AuditEvent.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["actor_id"], ["users.id"], name="fk_audit_events_actor_id_users", ondelete="SET NULL"
    )
)
