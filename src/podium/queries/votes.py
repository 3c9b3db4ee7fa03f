"""What a vote checks and writes (podium.services.voting), each read taking the lock the rule
needs. Every statement here runs in the voter's transaction."""

from __future__ import annotations

import uuid

import sqlalchemy
from sqlalchemy import bindparam, exists, func, insert, select
from sqlalchemy.dialects import postgresql

from podium.db import Record, Transaction
from podium.models import Event, EventAttendee, Project, ProjectCollaborator, Vote
from podium.queries.statement import Statement

events = Event.ormar_config.table
attendees = EventAttendee.ormar_config.table
projects = Project.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
votes = Vote.ormar_config.table

_UUID = postgresql.UUID(as_uuid=True)
_VOTER = bindparam("voter_id", type_=_UUID)
_EVENT = bindparam("event_id", type_=_UUID)

# FOR SHARE: an owner closing voting (or deleting the event) waits for votes in flight, and a
# vote arriving after the close sees it.
_EVENT_SHARED = Statement(
    select(events.c.id, events.c.phase)
    .where(events.c.seq == bindparam("seq"))
    .with_for_update(read=True)
)
# The event share-locked (as `_EVENT_SHARED`) and the voter's attendance locked, in one
# statement: the serialising lock, one voter, one event, one request at a time. No row: no such
# event, or the caller does not attend it (`_EVENT_SHARED` tells which, on that path only).
# SQLAlchemy renders one locking clause per SELECT; PostgreSQL takes one per table.
_VOTER_LOCKED = Statement(
    select(events.c.id, events.c.phase)
    .select_from(
        events.join(
            attendees, (attendees.c.event_id == events.c.id) & (attendees.c.user_id == _VOTER)
        )
    )
    .where(events.c.seq == bindparam("seq"))
    .suffix_with(f"FOR SHARE OF {events.name} FOR UPDATE OF {attendees.name}")
)
# What the voter already has in the event, as two uncorrelated subqueries (PostgreSQL runs each
# once, whatever the number of projects): read after the attendance lock, so every earlier
# vote of this voter is committed and visible to this statement.
_counted = projects.alias("counted")
_voted = projects.alias("voted")
_project_count = (
    select(func.count())
    .select_from(_counted)
    .where(_counted.c.event_id == _EVENT)
    .scalar_subquery()
    .label("project_count")
)
_voted_seqs = (
    select(
        func.coalesce(
            func.array_agg(_voted.c.seq),
            sqlalchemy.literal_column("'{}'"),
            type_=postgresql.ARRAY(sqlalchemy.BigInteger),
        )
    )
    .select_from(votes.join(_voted, _voted.c.id == votes.c.project_id))
    .where(votes.c.event_id == _EVENT, votes.c.voter_id == _VOTER)
    .scalar_subquery()
    .label("voted")
)
# The projects voted for, with the tally on every row. FOR KEY SHARE: a project found here cannot
# be deleted before its vote is stored.
_PROJECTS_AND_TALLY = Statement(
    select(
        projects.c.id,
        projects.c.seq,
        projects.c.event_id,
        sqlalchemy.or_(
            projects.c.owner_id == _VOTER,
            exists().where(
                collaborators.c.project_id == projects.c.id, collaborators.c.user_id == _VOTER
            ),
        ).label("own"),
        _project_count,
        _voted_seqs,
    )
    .where(
        projects.c.seq == func.any(bindparam("seqs", type_=postgresql.ARRAY(sqlalchemy.BigInteger)))
    )
    .with_for_update(read=True, key_share=True, of=projects)
)
_voted_for = (
    func.unnest(bindparam("project_ids", type_=postgresql.ARRAY(_UUID)))
    .table_valued("project_id")
    .render_derived(name="voted_for")
)
_INSERT = Statement(
    insert(votes)
    .from_select(
        ["voter_id", "project_id", "event_id"],
        select(_VOTER, _voted_for.c.project_id, _EVENT).select_from(_voted_for),
        include_defaults=False,
    )
    .returning(votes.c.seq, votes.c.project_id, votes.c.created_at)
)


async def event_for_voting(tx: Transaction, seq: int) -> Record | None:
    """(id, phase) of the event, share-locked until `tx` ends."""
    return await _EVENT_SHARED.fetchrow(tx, seq=seq)


async def lock_voter(tx: Transaction, seq: int, voter_id: uuid.UUID) -> Record | None:
    """(id, phase) of the event, share-locked, with the voter's attendance locked until `tx`
    ends; None when there is no such event or the voter does not attend it."""
    return await _VOTER_LOCKED.fetchrow(tx, seq=seq, voter_id=voter_id)


async def projects_and_tally(
    tx: Transaction, event_id: uuid.UUID, seqs: list[int], voter_id: uuid.UUID
) -> list[Record]:
    """(id, seq, event_id, own) of the projects with these seqs, key-share-locked, each with
    the event's `project_count` and `voted` (the seqs the voter already voted for)."""
    return await _PROJECTS_AND_TALLY.fetch(tx, event_id=event_id, seqs=seqs, voter_id=voter_id)


async def cast(
    tx: Transaction, event_id: uuid.UUID, voter_id: uuid.UUID, project_ids: list[uuid.UUID]
) -> list[Record]:
    """One vote per project; (seq, project_id, created_at) of each. Raises IntegrityError on a
    duplicate (the unique voter-project constraint)."""
    return await _INSERT.fetch(tx, event_id=event_id, voter_id=voter_id, project_ids=project_ids)
