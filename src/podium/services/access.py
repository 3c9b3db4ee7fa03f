"""Who may do what: the checks several route families share."""

from __future__ import annotations

import uuid

import sqlalchemy

from podium.db import database
from podium.errors import forbidden
from podium.models import Event, User

# SPEC §2: 3 votes when the event has ≥20 projects, 2 when ≥4, else 1.
VOTE_LIMIT_STEPS = ((20, 3), (4, 2))


def max_votes_per_user(project_count: int) -> int:
    for threshold, votes in VOTE_LIMIT_STEPS:
        if project_count >= threshold:
            return votes
    return 1


def is_owner(event: Event, user: User) -> bool:
    return bool(event.owner.pk == user.pk)


def require_owner(event: Event, user: User) -> None:
    if not is_owner(event, user):
        raise forbidden("only the event's owner may do this")


async def is_attendee(event_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    async with database.connection() as conn:
        found = await conn.scalar(
            sqlalchemy.text(
                "SELECT 1 FROM event_attendees WHERE event_id = :event AND user_id = :user"
            ),
            {"event": event_id, "user": user_id},
        )
    return found is not None
