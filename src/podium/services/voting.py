"""Voting rules (SPEC §2), race-free.

A voter's votes in one event are serialised by a row lock on their attendance: the check (how
many votes they have, which projects) and the insert happen while no other request of theirs
can change the answer. Different voters lock different rows, so voting stays parallel across
voters. The unique (voter, project) constraint and the composite foreign keys stay as the
database's second line. Points are never stored: a project's points are its vote count.
"""

from __future__ import annotations

from podium.db import Transaction, violation
from podium.errors import ApiError, ErrorCode, bad_request, conflict, not_found
from podium.ids import Entity
from podium.models import User
from podium.models.constraints import Constraint
from podium.public_ids import public_id
from podium.queries import IntegrityError
from podium.queries import votes as vote_rows
from podium.schemas.events import VoteCast, VotesCast
from podium.services import phases
from podium.services.access import max_votes_per_user


async def cast_votes(
    tx: Transaction, voter: User, event_seq: int, project_seqs: list[int]
) -> VotesCast:
    """Store one vote per project, all or none, in `tx` (whose locks serialise the voter)."""
    event = await vote_rows.lock_voter(tx, event_seq, voter.pk)
    if event is None:
        # Which rule failed, in the order a caller sees them: no event, not voting, not attending.
        event = await vote_rows.event_for_voting(tx, event_seq)
        if event is None:
            raise not_found("event")
        phases.require_voting(event["phase"])
        raise ApiError(403, ErrorCode.NOT_ATTENDING, "only attendees of the event may vote")
    event_id = event["id"]
    # Read under the share lock: a vote arriving after the owner closes voting is refused.
    phases.require_voting(event["phase"])

    # Read after the attendance lock, so every earlier vote of this voter is committed and visible.
    projects = await vote_rows.projects_and_tally(tx, event_id, project_seqs, voter.pk)
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

    counts = projects[0]  # every row carries the tally (`projects` is not empty: checked above)
    limit = max_votes_per_user(counts["project_count"])
    voted = set(counts["voted"])
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
        created = await vote_rows.cast(
            tx, event_id, voter.pk, [by_seq[seq]["id"] for seq in project_seqs]
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
