"""The event owner's paged lists: attendees, votes, referrals, by `(created_at, seq)`.

Each list is two statements built once: the first page, and the page after a cursor (a keyset
comparison on the same key, so paging while rows arrive neither skips nor repeats). Each reads
one row more than the page to know whether another page follows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record
from podium.models import EventAttendee, Project, Referral, User, Vote
from podium.queries.keyset import by_creation
from podium.queries.statement import Statement

attendees = EventAttendee.ormar_config.table
votes = Vote.ormar_config.table
referrals = Referral.ormar_config.table
users = User.ormar_config.table
projects = Project.ormar_config.table

_EVENT = bindparam("event_id", type_=postgresql.UUID(as_uuid=True))


_ATTENDEES = by_creation(
    select(
        attendees.c.seq,
        attendees.c.created_at,
        users.c.seq.label("user_seq"),
        users.c.email,
        users.c.first_name,
        users.c.last_name,
        users.c.display_name,
    )
    .select_from(attendees.join(users, users.c.id == attendees.c.user_id))
    .where(attendees.c.event_id == _EVENT),
    attendees,
)
_VOTES = by_creation(
    select(
        votes.c.seq,
        votes.c.created_at,
        users.c.seq.label("voter_seq"),
        users.c.display_name,
        projects.c.seq.label("project_seq"),
    )
    .select_from(
        votes.join(users, users.c.id == votes.c.voter_id).join(
            projects, projects.c.id == votes.c.project_id
        )
    )
    .where(votes.c.event_id == _EVENT),
    votes,
)
_REFERRALS = by_creation(
    select(
        referrals.c.seq,
        referrals.c.created_at,
        referrals.c.content,
        users.c.seq.label("user_seq"),
        users.c.display_name,
    )
    .select_from(referrals.join(users, users.c.id == referrals.c.user_id))
    .where(referrals.c.event_id == _EVENT),
    referrals,
)
AdminList = Literal["attendees", "votes", "referrals"]
LISTS: dict[AdminList, tuple[Statement, Statement]] = {
    "attendees": _ATTENDEES,
    "votes": _VOTES,
    "referrals": _REFERRALS,
}


async def page(
    db: Executor,
    which: AdminList,
    event_id: uuid.UUID,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[Record]:
    """Up to `limit` rows of the list `which` (a key of LISTS) after the cursor's key."""
    first, following = LISTS[which]
    if after is None:
        return await first.fetch(db, event_id=event_id, page_limit=limit)
    created_at, seq = after
    return await following.fetch(
        db, event_id=event_id, page_limit=limit, after_created_at=created_at, after_seq=seq
    )
