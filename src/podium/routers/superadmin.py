"""The platform admin's routes under /superadmin/: every event and user, ownership transfer,
events created on someone's behalf, feature flags, the audit trail, the projects export across
events, the trash. Superadmins only (`podium admin grant EMAIL`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response
from fastapi.responses import StreamingResponse

from podium.deps import Db, PathEvent, Superadmin, TrashPathId
from podium.errors import error_responses
from podium.models.audit import AuditAction
from podium.public_ids import EventRef, UserRef
from podium.routers import api_router
from podium.routers.exports import csv_download, csv_responses
from podium.schemas.audit import AuditEntry
from podium.schemas.common import Page
from podium.schemas.events import EventPrivate
from podium.schemas.superadmin import (
    EventCreateFor,
    FeatureFlagsChange,
    OwnerChange,
    SuperadminEvent,
    SuperadminUser,
)
from podium.schemas.trash import TrashEntry, TrashRestored
from podium.services import audit, exports, trash
from podium.services import events as events_service
from podium.services import superadmin as service
from podium.services.audit import Actor
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
async def superadmin_create_event(body: EventCreateFor, user: Superadmin, db: Db) -> EventPrivate:
    """Create an event owned by `owner` (404 if no such user): the body of POST /events/."""
    async with db.transaction() as tx:
        return await service.create_event_for(tx, body, Actor.superadmin(user))


@router.post(
    "/events/{event_id}/owner",
    response_model=EventPrivate,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def superadmin_transfer_event(
    body: OwnerChange, user: Superadmin, event: PathEvent, db: Db
) -> EventPrivate:
    """Make `owner` the event's owner (404 if no such user); the former owner loses it."""
    async with db.transaction() as tx:
        return await service.transfer_ownership(tx, event, body.owner, Actor.superadmin(user))


@router.put(
    "/events/{event_id}/feature-flags",
    response_model=EventPrivate,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def superadmin_set_feature_flags(
    body: FeatureFlagsChange, user: Superadmin, event: PathEvent, db: Db
) -> EventPrivate:
    """Replace the event's feature flags (audited; the event's ETags move); answers the event."""
    async with db.transaction() as tx:
        return await events_service.set_feature_flags(
            tx, event, body.feature_flags, Actor.superadmin(user)
        )


@router.get(
    "/audit",
    response_model=Page[AuditEntry],
    responses=error_responses(401, 403, 422, 503),
)
async def superadmin_list_audit(
    _: Superadmin,
    page: PageParams,
    db: Db,
    event: Annotated[
        EventRef | None, Query(description="Only entries about this event (deleted ones too)")
    ] = None,
    actor: Annotated[UserRef | None, Query(description="Only entries of this actor")] = None,
    action: Annotated[AuditAction | None, Query(description="Only entries of this action")] = None,
) -> Page[AuditEntry]:
    """Every audit entry, oldest first, optionally of one event, actor and action."""
    return await audit.trail(db, page, event_seq=event, actor_seq=actor, action=action)


MAX_EXPORTED_EVENTS = 50


@router.get(
    "/export/projects.csv",
    response_class=StreamingResponse,
    responses=csv_responses("projects", leading="`event_id`, `event_name`, "),
)
async def superadmin_export_projects_csv(
    user: Superadmin,
    db: Db,
    event: Annotated[
        list[EventRef],
        Query(
            min_length=1,
            max_length=MAX_EXPORTED_EVENTS,
            description="The events to export, 1 to 50, in the file's order (repeat the "
            "parameter: `?event=e_…&event=e_…`); a repeated one is exported once",
        ),
    ],
) -> StreamingResponse:
    """The projects export of several events in one file, each row led by its event's ID and
    name (404 if any event is unknown); audited once per event."""
    events = await service.events_to_export(db, event)
    # Audited first, in a transaction of its own (services.exports.record says why).
    async with db.transaction() as tx:
        await exports.record(tx, Actor.superadmin(user), "projects", events)
    chunks = exports.stream_parts(
        db, "projects", service.export_parts(events), ("event_id", "event_name")
    )
    name = f"podium-projects-{len(events)}-events-{datetime.now(UTC):%Y-%m-%d}.csv"
    return await csv_download(chunks, name)


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
