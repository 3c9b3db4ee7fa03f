"""The event owner's views of an event: attendees, votes, referrals; removing an attendee."""

from __future__ import annotations

from podium.db import Executor, Transaction
from podium.errors import ApiError, ErrorCode
from podium.ids import Entity
from podium.models import Event
from podium.models.audit import AuditAction, TargetKind
from podium.public_ids import public_id
from podium.queries import members
from podium.schemas.admin import AttendeePrivate, ReferralAdmin, VoteAdmin
from podium.schemas.common import Page, UserPublic
from podium.services import audit
from podium.services.pagination import PageRequest, fetch_page


def _user(seq: int, display_name: str) -> UserPublic:
    return UserPublic(id=public_id(Entity.USER, seq), display_name=display_name)


async def attendees(db: Executor, event: Event, page: PageRequest) -> Page[AttendeePrivate]:
    rows, cursor = await fetch_page(db, "attendees", event.pk, page)
    return Page[AttendeePrivate](
        items=[
            AttendeePrivate(
                id=public_id(Entity.USER, row["user_seq"]),
                email=row["email"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                display_name=row["display_name"],
                joined_at=row["created_at"],
            )
            for row in rows
        ],
        next_cursor=cursor,
    )


async def votes(db: Executor, event: Event, page: PageRequest) -> Page[VoteAdmin]:
    rows, cursor = await fetch_page(db, "votes", event.pk, page)
    return Page[VoteAdmin](
        items=[
            VoteAdmin(
                id=public_id(Entity.VOTE, row["seq"]),
                voter=_user(row["voter_seq"], row["display_name"]),
                project_id=public_id(Entity.PROJECT, row["project_seq"]),
                created_at=row["created_at"],
            )
            for row in rows
        ],
        next_cursor=cursor,
    )


async def referrals(db: Executor, event: Event, page: PageRequest) -> Page[ReferralAdmin]:
    rows, cursor = await fetch_page(db, "referrals", event.pk, page)
    return Page[ReferralAdmin](
        items=[
            ReferralAdmin(
                id=public_id(Entity.REFERRAL, row["seq"]),
                content=row["content"],
                user=_user(row["user_seq"], row["display_name"]),
                created_at=row["created_at"],
            )
            for row in rows
        ],
        next_cursor=cursor,
    )


async def remove_attendee(tx: Transaction, event: Event, user_seq: int, actor: audit.Actor) -> None:
    """Remove a user's attendance; the database drops their votes in this event with it.

    Their projects, collaborations and referral stay: they are the event's record, and the
    owner may re-admit the user by giving them the join code again.
    """
    if not await members.remove_attendee(tx, event.pk, user_seq):
        # 400, not 404: the event exists; the request names someone who is not in it.
        raise ApiError(400, ErrorCode.NOT_ATTENDING, "this user does not attend this event")
    await audit.record(
        tx,
        actor,
        AuditAction.ATTENDEE_REMOVED,
        event=audit.AuditedEvent.of(event),
        target=(TargetKind.USER, user_seq),
    )
