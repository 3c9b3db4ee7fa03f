"""Who belongs where: an event's attendees, a project's collaborators."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, literal, select
from sqlalchemy.dialects.postgresql import insert

from podium.db import Executor, Transaction
from podium.models import EventAttendee, ProjectCollaborator, User
from podium.models.constraints import Constraint
from podium.queries.statement import Statement

attendees = EventAttendee.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
users = User.ormar_config.table

_ATTENDS = Statement(
    select(literal(1)).where(
        attendees.c.event_id == bindparam("event_id"), attendees.c.user_id == bindparam("user_id")
    )
)
# ON CONFLICT waits for a concurrent join by the same user to finish, then inserts nothing:
# exactly one of any number of simultaneous joins inserts.
_ATTEND = Statement(
    insert(attendees)
    .values(event_id=bindparam("event_id"), user_id=bindparam("user_id"))
    .on_conflict_do_nothing(constraint=Constraint.ATTENDEES_EVENT_USER.value)
    .returning(attendees.c.id)
)
_REMOVE_ATTENDEE = Statement(
    delete(attendees)
    .where(
        attendees.c.user_id == users.c.id,
        users.c.seq == bindparam("user_seq"),
        attendees.c.event_id == bindparam("event_id"),
    )
    .returning(attendees.c.id)
)
_ADD_COLLABORATOR = Statement(
    insert(collaborators).values(project_id=bindparam("project_id"), user_id=bindparam("user_id"))
)
_COLLABORATES = Statement(
    select(literal(1)).where(
        collaborators.c.project_id == bindparam("project_id"),
        collaborators.c.user_id == bindparam("user_id"),
    )
)


async def attends(db: Executor, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await _ATTENDS.fetchrow(db, event_id=event_id, user_id=user_id) is not None


async def collaborates(db: Executor, project_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await _COLLABORATES.fetchrow(db, project_id=project_id, user_id=user_id) is not None


async def attend(tx: Transaction, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Make the user an attendee; False if they already were."""
    return await _ATTEND.fetchval(tx, event_id=event_id, user_id=user_id) is not None


async def remove_attendee(tx: Transaction, event_id: uuid.UUID, user_seq: int) -> bool:
    """End the attendance of the user with this seq; False if they did not attend."""
    return await _REMOVE_ATTENDEE.fetchval(tx, event_id=event_id, user_seq=user_seq) is not None


async def add_collaborator(tx: Transaction, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Raises IntegrityError: unique (already a member), foreign key (project gone)."""
    await _ADD_COLLABORATOR.execute(tx, project_id=project_id, user_id=user_id)
