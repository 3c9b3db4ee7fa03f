"""The event owner's admin routes under /events/admin/{event_id}."""

from __future__ import annotations

from fastapi import APIRouter, Response

from podium.deps import DbTransaction
from podium.errors import error_responses
from podium.routers.events import OwnedEvent
from podium.schemas.admin import AttendeePrivate, ReferralAdmin, RemoveAttendee, VoteAdmin
from podium.schemas.common import Page
from podium.schemas.events import EventPrivate
from podium.services import admin as service
from podium.services.events import private_view
from podium.services.pagination import PageParams

router = APIRouter(prefix="/events/admin/{event_id}", tags=["event admin"])


@router.get("", response_model=EventPrivate, responses=error_responses(401, 403, 404, 422))
async def get_admin_event(event: OwnedEvent) -> EventPrivate:
    """The owner's view of the event: join code, attendee count, votes per attendee."""
    return await private_view(event.pk)


@router.get(
    "/attendees",
    response_model=Page[AttendeePrivate],
    responses=error_responses(401, 403, 404, 422),
)
async def list_event_attendees(event: OwnedEvent, page: PageParams) -> Page[AttendeePrivate]:
    """The event's attendees with their contact names and email, in joining order."""
    return await service.attendees(event, page)


@router.post(
    "/remove-attendee",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def remove_event_attendee(body: RemoveAttendee, event: OwnedEvent, _: DbTransaction) -> None:
    """Remove an attendee from the event, and with them their votes in it."""
    await service.remove_attendee(event, body.user)


@router.get(
    "/votes",
    response_model=Page[VoteAdmin],
    responses=error_responses(401, 403, 404, 422),
)
async def list_event_votes(event: OwnedEvent, page: PageParams) -> Page[VoteAdmin]:
    """Every vote cast in the event, oldest first."""
    return await service.votes(event, page)


@router.get(
    "/referrals",
    response_model=Page[ReferralAdmin],
    responses=error_responses(401, 403, 404, 422),
)
async def list_event_referrals(event: OwnedEvent, page: PageParams) -> Page[ReferralAdmin]:
    """Every referral given when joining the event, oldest first."""
    return await service.referrals(event, page)
