"""Voting rules (SPEC §2), race-free.

A voter's votes in one event are serialised by a row lock on their attendance: the check (how
many votes they have, which projects) and the insert happen while no other request of theirs
can change the answer. Different voters lock different rows, so voting stays parallel across
voters. The unique (voter, project) constraint and the composite foreign keys stay as the
database's second line. Points are never stored: a project's points are its vote count.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from podium.db import database, violation
from podium.errors import ApiError, ErrorCode, bad_request, conflict, not_found
from podium.ids import Entity
from podium.models import User
from podium.models.constraints import Constraint
from podium.public_ids import public_id
from podium.schemas.events import VoteCast, VotesCast
from podium.services.access import max_votes_per_user


async def _rows(conn: AsyncConnection, sql: str, **params: Any) -> list[sqlalchemy.RowMapping]:
    return list((await conn.execute(sqlalchemy.text(sql), params)).mappings())


async def cast_votes(voter: User, event_seq: int, project_seqs: list[int]) -> VotesCast:
    """Store one vote per project, all or none; needs the request's transaction."""
    conn = database.get_transaction_connection()
    assert conn is not None, "cast_votes needs the request's transaction"

    # FOR SHARE: an owner closing voting (or deleting the event) waits for votes in flight,
    # and a vote arriving after the close sees it.
    events = await _rows(
        conn, "SELECT id, votable FROM events WHERE seq = :seq FOR SHARE", seq=event_seq
    )
    if not events:
        raise not_found("event")
    event_id = events[0]["id"]
    if not events[0]["votable"]:
        raise ApiError(403, ErrorCode.VOTING_CLOSED, "voting is not open for this event")

    # The serialising lock: one voter, one event, one request at a time.
    attendance = await _rows(
        conn,
        "SELECT 1 FROM event_attendees WHERE event_id = :event AND user_id = :user FOR UPDATE",
        event=event_id,
        user=voter.pk,
    )
    if not attendance:
        raise ApiError(403, ErrorCode.NOT_ATTENDING, "only attendees of the event may vote")

    # FOR KEY SHARE: a project found here cannot be deleted before its vote is stored.
    projects = await _rows(
        conn,
        """
        SELECT p.id, p.seq, p.event_id,
               p.owner_id = :user OR EXISTS (
                   SELECT 1 FROM project_collaborators c
                   WHERE c.project_id = p.id AND c.user_id = :user
               ) AS own
        FROM projects p WHERE p.seq = ANY(CAST(:seqs AS bigint[]))
        FOR KEY SHARE OF p
        """,
        seqs=project_seqs,
        user=voter.pk,
    )
    by_seq = {row["seq"]: row for row in projects}
    for seq in project_seqs:
        if seq not in by_seq:
            raise not_found(f"project {public_id(Entity.PROJECT, seq)}")
    for seq in project_seqs:
        if by_seq[seq]["event_id"] != event_id:
            raise bad_request(
                ErrorCode.PROJECT_NOT_IN_EVENT,
                f"project {public_id(Entity.PROJECT, seq)} is not part of this event",
            )
    for seq in project_seqs:
        if by_seq[seq]["own"]:
            raise ApiError(
                403,
                ErrorCode.OWN_PROJECT,
                f"you cannot vote for project {public_id(Entity.PROJECT, seq)}: it is your own",
            )

    # Read after the lock, so every earlier vote of this voter is committed and visible.
    counts = await _rows(
        conn,
        """
        SELECT (SELECT count(*) FROM projects WHERE event_id = :event) AS project_count,
               (SELECT coalesce(array_agg(p.seq), '{}') FROM votes v
                JOIN projects p ON p.id = v.project_id
                WHERE v.event_id = :event AND v.voter_id = :user) AS voted
        """,
        event=event_id,
        user=voter.pk,
    )
    limit = max_votes_per_user(counts[0]["project_count"])
    voted = set(counts[0]["voted"])
    for seq in project_seqs:
        if seq in voted:
            raise conflict(
                ErrorCode.ALREADY_VOTED,
                f"you already voted for project {public_id(Entity.PROJECT, seq)}",
            )
    if len(voted) + len(project_seqs) > limit:
        left = limit - len(voted)
        raise bad_request(
            ErrorCode.VOTE_LIMIT_EXCEEDED,
            f"this event allows {limit} vote(s) per attendee; you have {left} left "
            f"and asked for {len(project_seqs)}",
        )

    try:
        created = await _rows(
            conn,
            """
            INSERT INTO votes (voter_id, project_id, event_id)
            SELECT :user, project_id, :event FROM unnest(CAST(:projects AS uuid[])) AS project_id
            RETURNING seq, project_id, created_at
            """,
            user=voter.pk,
            event=event_id,
            projects=[by_seq[seq]["id"] for seq in project_seqs],
        )
    except IntegrityError as exc:
        if violation(exc).constraint == Constraint.VOTES_VOTER_PROJECT:
            raise conflict(
                ErrorCode.ALREADY_VOTED, "you already voted for one of these projects"
            ) from None
        raise

    vote_of = {row["project_id"]: row for row in created}
    return VotesCast(
        event_id=public_id(Entity.EVENT, event_seq),
        votes=[
            VoteCast(
                id=public_id(Entity.VOTE, vote_of[by_seq[seq]["id"]]["seq"]),
                project_id=public_id(Entity.PROJECT, seq),
                created_at=vote_of[by_seq[seq]["id"]]["created_at"],
            )
            for seq in project_seqs
        ],
        votes_remaining=limit - len(voted) - len(created),
    )
