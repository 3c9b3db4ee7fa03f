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
# The serialising lock: one voter, one event, one request at a time.
_ATTENDANCE_LOCKED = Statement(
    select(sqlalchemy.literal_column("1"))
    .select_from(attendees)
    .where(attendees.c.event_id == _EVENT, attendees.c.user_id == _VOTER)
    .with_for_update()
)
# FOR KEY SHARE: a project found here cannot be deleted before its vote is stored.
_PROJECTS_KEY_SHARED = Statement(
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
    )
    .where(
        projects.c.seq == func.any(bindparam("seqs", type_=postgresql.ARRAY(sqlalchemy.BigInteger)))
    )
    .with_for_update(read=True, key_share=True, of=projects)
)
_TALLY = Statement(
    select(
        select(func.count())
        .select_from(projects)
        .where(projects.c.event_id == _EVENT)
        .scalar_subquery()
        .label("project_count"),
        select(
            func.coalesce(
                func.array_agg(projects.c.seq),
                sqlalchemy.literal_column("'{}'"),
                type_=postgresql.ARRAY(sqlalchemy.BigInteger),
            )
        )
        .select_from(votes.join(projects, projects.c.id == votes.c.project_id))
        .where(votes.c.event_id == _EVENT, votes.c.voter_id == _VOTER)
        .scalar_subquery()
        .label("voted"),
    )
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


async def lock_attendance(tx: Transaction, event_id: uuid.UUID, voter_id: uuid.UUID) -> bool:
    """Lock the voter's attendance row until `tx` ends; False if they do not attend."""
    return await _ATTENDANCE_LOCKED.fetchrow(tx, event_id=event_id, voter_id=voter_id) is not None


async def projects_for_voting(
    tx: Transaction, seqs: list[int], voter_id: uuid.UUID
) -> list[Record]:
    """(id, seq, event_id, own) of the projects with these seqs, key-share-locked."""
    return await _PROJECTS_KEY_SHARED.fetch(tx, seqs=seqs, voter_id=voter_id)


async def tally(tx: Transaction, event_id: uuid.UUID, voter_id: uuid.UUID) -> Record:
    """(project_count, voted: the seqs of the projects the voter already voted for)."""
    row = await _TALLY.fetchrow(tx, event_id=event_id, voter_id=voter_id)
    assert row is not None  # a SELECT without FROM returns its one row
    return row


async def cast(
    tx: Transaction, event_id: uuid.UUID, voter_id: uuid.UUID, project_ids: list[uuid.UUID]
) -> list[Record]:
    """One vote per project; (seq, project_id, created_at) of each. Raises IntegrityError on a
    duplicate (the unique voter-project constraint)."""
    return await _INSERT.fetch(tx, event_id=event_id, voter_id=voter_id, project_ids=project_ids)
