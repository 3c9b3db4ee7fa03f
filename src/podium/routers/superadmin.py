"""The platform admin's routes under /superadmin/: every event and user, ownership transfer,
events created on someone's behalf, the trash. Superadmins only (`podium admin grant EMAIL`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from podium.deps import Db, PathEvent, Superadmin, TrashPathId
from podium.errors import error_responses
from podium.routers import api_router
from podium.schemas.common import Page
from podium.schemas.events import EventPrivate
from podium.schemas.superadmin import EventCreateFor, OwnerChange, SuperadminEvent, SuperadminUser
from podium.schemas.trash import TrashEntry, TrashRestored
from podium.services import superadmin as service
from podium.services import trash
from podium.services.pagination import PageParams

router = api_router(prefix="/superadmin", tags=["superadmin"])

Search = Annotated[
    str,
    Query(max_length=200, description="Case-insensitive substring to match; empty matches all"),
]


@router.get(
    "/events",
    response_model=Page[SuperadminEvent],
    responses=error_responses(401, 403, 422, 503),
)
async def superadmin_list_events(
    _: Superadmin, page: PageParams, db: Db, q: Search = ""
) -> Page[SuperadminEvent]:
    """Every event (drafts too) whose name or slug contains `q`, oldest first, with its owner."""
    return await service.events(db, q, page)


@router.get(
    "/users",
    response_model=Page[SuperadminUser],
    responses=error_responses(401, 403, 422, 503),
)
async def superadmin_list_users(
    _: Superadmin, page: PageParams, db: Db, q: Search = ""
) -> Page[SuperadminUser]:
    """Every user whose email or name contains `q`, oldest first."""
    return await service.users(db, q, page)


@router.post(
    "/events",
    response_model=EventPrivate,
    status_code=201,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def superadmin_create_event(body: EventCreateFor, _: Superadmin, db: Db) -> EventPrivate:
    """Create an event owned by `owner` (404 if no such user): the body of POST /events/."""
    async with db.transaction() as tx:
        return await service.create_event_for(tx, body)


@router.post(
    "/events/{event_id}/owner",
    response_model=EventPrivate,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def superadmin_transfer_event(
    body: OwnerChange, _: Superadmin, event: PathEvent, db: Db
) -> EventPrivate:
    """Make `owner` the event's owner (404 if no such user); the former owner loses it."""
    async with db.transaction() as tx:
        return await service.transfer_ownership(tx, event, body.owner)


@router.get(
    "/trash",
    response_model=Page[TrashEntry],
    responses=error_responses(401, 403, 422, 503),
)
async def superadmin_list_trash(_: Superadmin, page: PageParams, db: Db) -> Page[TrashEntry]:
    """Every trashed event and project, oldest deletion first."""
    return await trash.entries(db, None, page)


@router.post(
    "/trash/{trash_id}/restore",
    response_model=TrashRestored,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def superadmin_restore_trash(
    trash_id: TrashPathId, user: Superadmin, db: Db
) -> TrashRestored:
    """Put any trashed event or project back as it was (409 while a project's event is in the
    trash), whatever the event's phase."""
    async with db.transaction() as tx:
        return await trash.restore(tx, trash_id, user, any_owner=True)


@router.delete(
    "/trash/{trash_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def superadmin_purge_trash(trash_id: TrashPathId, user: Superadmin, db: Db) -> None:
    """Remove a trash entry for good now (an event's takes its projects' entries with it)."""
    async with db.transaction() as tx:
        await trash.purge(tx, trash_id, user)
