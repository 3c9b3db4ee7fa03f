"""Response shapes of the audit trail (docs/audit.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from podium.models.audit import ActorRole, AuditAction, TargetKind
from podium.public_ids import EventId, UserId


class AuditActor(BaseModel):
    id: UserId | None = Field(description="Null for the CLI (`podium admin`)")
    email: str | None = Field(
        description="The actor's email when they acted: kept after their account is deleted"
    )
    role: ActorRole = Field(description="`owner` of the event, `superadmin`, or `cli`")


class AuditEventRef(BaseModel):
    id: EventId
    name: str = Field(description="The event's name when the action was recorded")


class AuditEntry(BaseModel):
    """One recorded action."""

    at: datetime
    action: AuditAction
    actor: AuditActor
    event: AuditEventRef | None = Field(description="Null for actions on no event (`podium admin`)")
    target_kind: TargetKind | None = Field(description="What `target` names, if anything")
    target: str | None = Field(
        description="The public ID of the user or project acted on (a removed attendee, a "
        "deleted project, the new owner, the user made superadmin)"
    )
    changes: dict[str, Any] = Field(
        description="For edits `{field: [old, new]}`; for exports `{export, rows, events}`. "
        "Join codes show as `changed`, never their value"
    )
