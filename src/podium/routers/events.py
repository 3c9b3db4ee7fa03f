"""Events: create, read, update, delete, join by code, vote."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from podium import metrics
from podium.deps import (
    CurrentUser,
    Db,
    EventPathId,
    OwnedEvent,
    ReadDb,
    SettingsDep,
    ViewerDep,
    read_database_of,
    viewer_of,
)
from podium.errors import conditional_responses, error_responses
from podium.http import conditional
from podium.http.rate_limits import ClientAddress, per_user
from podium.routers import api_router
from podium.schemas.events import (
    EventCreate,
    EventIdOfSlug,
    EventPrivate,
    EventPublic,
    EventUpdate,
    UserEvents,
    VoteRequest,
    VotesCast,
)
from podium.services import events as service
from podium.services import rate_limits, voting
from podium.services.audit import Actor
from podium.services.rate_limits import Bucket

router = api_router(prefix="/events", tags=["events"])


@router.post(
    "/",
    response_model=EventPrivate,
    status_code=201,
    responses=error_responses(401, 409, 422, 429, 503),
    dependencies=[per_user(Bucket.EVENT_CREATE)],
)
async def create_event(body: EventCreate, user: CurrentUser, db: Db) -> EventPrivate:
    """Create an event owned by the caller (who does not attend it until they join by code)."""
    async with db.transaction() as tx:
        return await service.create_event(tx, user, body)


@router.get("/", response_model=UserEvents, responses=error_responses(401, 503))
async def list_my_events(user: CurrentUser, db: Db) -> UserEvents:
    """The caller's owned events (owner's view) and attended events (public view)."""
    return await service.events_of(db, user)


@router.get("/id/{slug}", response_model=EventIdOfSlug, responses=error_responses(404, 422, 503))
async def get_event_id_by_slug(slug: str, db: ReadDb, viewer: ViewerDep) -> EventIdOfSlug:
    """The public ID of the event with this slug (a draft's for its owner's token only)."""
    return await service.event_id_of_slug(db, slug, viewer)


@router.post(
    "/attend",
    response_model=EventPublic,
    status_code=200,
    responses=error_responses(401, 404, 409, 422, 429, 503),
)
async def attend_event(
    user: CurrentUser,
    settings: SettingsDep,
    address: ClientAddress,
    join_code: Annotated[
        str, Query(min_length=1, max_length=32, description="The event's join code, any case")
    ],
    db: Db,
    referral: Annotated[
        str, Query(max_length=500, description="How did you hear about this event?")
    ] = "",
) -> EventPublic:
    """Join the event with this join code; answers with the event joined.

    Wrong codes are limited per account and per network (429 past the limit).
    """
    attempt = rate_limits.join_code_attempt(db, settings, user.pk, address)
    async with attempt, db.transaction() as tx:
        return await service.attend_event(tx, user, join_code, referral)


@router.post(
    "/vote",
    response_model=VotesCast,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429, 503),
)
async def cast_votes(
    body: VoteRequest, user: CurrentUser, db: Db, settings: SettingsDep
) -> VotesCast:
    """Vote for projects of an event, all or none."""
    # The limit is counted on the vote's own connection before BEGIN (not `per_user`: a route
    # dependency and an autocommit statement of its own were a quarter of this route's CPU).
    count = rate_limits.counter(settings, Bucket.VOTES, rate_limits.user_key(Bucket.VOTES, user.pk))
    async with db.transaction(before_begin=count) as tx:
        cast = await voting.cast_votes(tx, user, body.event, body.projects)
    # Counted once committed: a vote rolled back or answered 503 was not cast.
    metrics.VOTES_CAST.inc(len(cast.votes))
    return cast


@router.get(
    "/{event_id}",
    response_model=EventPublic,
    responses={**conditional_responses(), **error_responses(404, 422, 503)},
    openapi_extra=conditional.IF_NONE_MATCH,
)
async def get_event(event_id: EventPathId, request: Request) -> Response:
    """The public view of an event (no token needed; a draft answers 404 but to its owner)."""
    # Not PathEvent: loading the ormar row first doubled the cost of the hottest read. Not ReadDb
    # either: the request is needed anyway, and a dependency costs ~30 µs, 5 % of this route
    # (the viewer, too, is built from it, and looked up only for a draft).
    db = read_database_of(request)
    event = await service.public_view_by_public_id(db, event_id, viewer_of(request))
    body = event.model_dump_json().encode()
    return conditional.json_with_etag(
        conditional.if_none_match(request), body, conditional.body_etag(body)
    )


@router.put(
    "/{event_id}",
    response_model=EventPrivate,
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
    dependencies=[per_user(Bucket.EDITS)],
)
async def update_event(
    body: EventUpdate, event: OwnedEvent, user: CurrentUser, db: Db
) -> EventPrivate:
    """Change an event's fields (those left out keep their value), its phase too; owner only."""
    async with db.transaction() as tx:
        return await service.update_event(tx, event, body, Actor.organiser(user, event))


@router.delete(
    "/{event_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def delete_event(event: OwnedEvent, user: CurrentUser, db: Db, settings: SettingsDep) -> None:
    """Move an event with its attendees, projects, votes and referrals to the trash; owner
    only (restorable until it is purged)."""
    async with db.transaction() as tx:
        await service.delete_event(
            tx, event, user, Actor.organiser(user, event), settings.trash_retention
        )
