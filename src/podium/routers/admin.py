"""The event owner's admin routes under /events/admin/{event_id}."""

from __future__ import annotations

from fastapi import Request, Response

from podium.deps import CurrentUser, Db, OwnedEvent, SettingsDep
from podium.errors import conditional_responses, error_responses
from podium.http import conditional
from podium.routers import api_router
from podium.schemas.admin import AttendeePrivate, ReferralAdmin, RemoveAttendee, VoteAdmin
from podium.schemas.audit import AuditEntry
from podium.schemas.common import Page
from podium.schemas.events import EventPrivate
from podium.schemas.projects import ProjectAdmin
from podium.services import admin as service
from podium.services import audit, leaderboard
from podium.services.audit import Actor
from podium.services.events import private_view
from podium.services.pagination import PageParams

router = api_router(prefix="/events/admin/{event_id}", tags=["event admin"])


@router.get("", response_model=EventPrivate, responses=error_responses(401, 403, 404, 422, 503))
async def get_admin_event(event: OwnedEvent, db: Db) -> EventPrivate:
    """The owner's view of the event: join code, attendee count, votes per attendee."""
    return await private_view(db, event.pk)


@router.get(
    "/leaderboard",
    response_model=list[ProjectAdmin],
    responses={**conditional_responses(), **error_responses(401, 403, 404, 422, 503)},
    openapi_extra=conditional.IF_NONE_MATCH,
)
async def get_admin_leaderboard(
    event: OwnedEvent, db: Db, settings: SettingsDep, request: Request
) -> Response:
    """The event owner's leaderboard: every project by points, with join codes and emails."""
    etag = await leaderboard.admin_leaderboard_etag(db, event, settings.id_key_value)
    return await conditional.json_for_tag(
        conditional.if_none_match(request),
        etag,
        lambda: leaderboard.admin_leaderboard_json(db, event),
        conditional.PRIVATE_CACHE,
    )


@router.get(
    "/attendees",
    response_model=Page[AttendeePrivate],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_event_attendees(
    event: OwnedEvent, page: PageParams, db: Db
) -> Page[AttendeePrivate]:
    """The event's attendees with their contact names and email, in joining order."""
    return await service.attendees(db, event, page)


@router.post(
    "/remove-attendee",
    status_code=204,
    response_class=Response,
    responses=error_responses(400, 401, 403, 404, 422, 503),
)
async def remove_event_attendee(
    body: RemoveAttendee, event: OwnedEvent, user: CurrentUser, db: Db
) -> None:
    """Remove an attendee from the event, and with them their votes in it."""
    async with db.transaction() as tx:
        await service.remove_attendee(tx, event, body.user, Actor.organiser(user, event))


@router.get(
    "/audit",
    response_model=Page[AuditEntry],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_event_audit(event: OwnedEvent, page: PageParams, db: Db) -> Page[AuditEntry]:
    """The event's audit trail, oldest first: who changed, removed or exported what, and when."""
    return await audit.trail(db, page, event_seq=event.seq)


@router.get(
    "/votes",
    response_model=Page[VoteAdmin],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_event_votes(event: OwnedEvent, page: PageParams, db: Db) -> Page[VoteAdmin]:
    """Every vote cast in the event, oldest first."""
    return await service.votes(db, event, page)


@router.get(
    "/referrals",
    response_model=Page[ReferralAdmin],
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_event_referrals(event: OwnedEvent, page: PageParams, db: Db) -> Page[ReferralAdmin]:
    """Every referral given when joining the event, oldest first."""
    return await service.referrals(db, event, page)
