"""Who may do what: the checks several route families share."""

from __future__ import annotations

import uuid

from podium.db import Executor
from podium.errors import forbidden
from podium.models import Event, User
from podium.queries import members

# SPEC §2: 3 votes when the event has ≥20 projects, 2 when ≥4, else 1.
VOTE_LIMIT_STEPS = ((20, 3), (4, 2))


def max_votes_per_user(project_count: int) -> int:
    for threshold, votes in VOTE_LIMIT_STEPS:
        if project_count >= threshold:
            return votes
    return 1


def is_owner(event: Event, user: User) -> bool:
    return bool(event.owner.pk == user.pk)


def may_organise(event: Event, user: User) -> bool:
    """The event's owner, or a superadmin (who may use every organiser route of any event)."""
    # is_superadmin comes with the user's row (the one lookup of the token): no statement more.
    return bool(user.is_superadmin) or is_owner(event, user)


def require_owner(event: Event, user: User) -> None:
    if not may_organise(event, user):
        raise forbidden("only the event's owner may do this")


async def is_attendee(db: Executor, event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await members.attends(db, event_id, user_id)
