"""Who belongs where: an event's attendees, a project's collaborators."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, literal, select

from podium.models import EventAttendee, ProjectCollaborator
from podium.queries.statement import Statement

attendees = EventAttendee.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table

_ATTENDS = Statement(
    select(literal(1)).where(
        attendees.c.event_id == bindparam("event_id"), attendees.c.user_id == bindparam("user_id")
    )
)
_COLLABORATES = Statement(
    select(literal(1)).where(
        collaborators.c.project_id == bindparam("project_id"),
        collaborators.c.user_id == bindparam("user_id"),
    )
)


async def attends(event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await _ATTENDS.fetchrow(event_id=event_id, user_id=user_id) is not None


async def collaborates(project_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await _COLLABORATES.fetchrow(project_id=project_id, user_id=user_id) is not None
