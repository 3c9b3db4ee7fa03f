"""Shapes of the trash routes (owner's under /users/current/trash, superadmin's under
/superadmin/trash)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from podium.public_ids import EventId, ProjectId, TrashId, UserId

TrashKind = Literal["event", "project"]


class TrashEntry(BaseModel):
    """A deleted event or project, kept whole until `purge_after`."""

    id: TrashId
    kind: TrashKind
    name: str
    event_id: EventId = Field(description="The event (trashed itself when `kind` is event)")
    project_id: ProjectId | None = Field(description="The trashed project (kind project only)")
    owner_id: UserId = Field(description="Who may restore it: the event's or project's owner")
    deleted_by: UserId | None = Field(description="Who deleted it (null once their account is)")
    deleted_at: datetime
    purge_after: datetime = Field(description="From then on `podium purge` removes it for good")
    restorable: bool = Field(
        description="False for a project whose event is in the trash too: restore the event first"
    )
    rows: dict[str, int] = Field(description="How many rows it holds, per table")


class TrashRestored(BaseModel):
    """What a restore put back, and what it could not."""

    id: TrashId
    kind: TrashKind
    event_id: EventId
    project_id: ProjectId | None
    restored: dict[str, int] = Field(description="Rows put back, per table")
    skipped: dict[str, int] = Field(
        description="Rows left out per table: their account was deleted meanwhile (with its "
        "votes, attendances and collaborations), or a voter no longer attends the event"
    )
    votes_over_limit: int = Field(
        description="Votes dropped because their voter has voted again meanwhile and would be "
        "over the event's vote limit with them"
    )
    projects_handed_over: int = Field(
        description="Projects whose owner's account is gone, passed to their first collaborator"
    )
