"""Projects: CRUD, joining as a collaborator, an event's project list and leaderboards, and
quality checks through the review service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from podium.deps import CurrentUser, Db, PathEvent, PathProject, ReadDb, SettingsDep, viewer_of
from podium.errors import conditional_responses, error_responses
from podium.http import conditional
from podium.http.rate_limits import ClientAddress, per_user
from podium.routers import api_router
from podium.schemas.projects import (
    LinkCheck,
    ProjectCheck,
    ProjectCheckStart,
    ProjectCreate,
    ProjectPrivate,
    ProjectPublic,
    ProjectUpdate,
)
from podium.services import leaderboard, link_checks, phases, rate_limits, review
from podium.services import projects as service
from podium.services.rate_limits import Bucket

router = api_router(tags=["projects"])


@router.get(
    "/events/{event_id}/projects",
    response_model=list[ProjectPublic],
    responses={**conditional_responses(), **error_responses(403, 404, 422, 503)},
    openapi_extra=conditional.IF_NONE_MATCH,
)
async def list_event_projects(
    event: PathEvent,
    db: ReadDb,
    settings: SettingsDep,
    request: Request,
    leaderboard_order: Annotated[bool, Query(alias="leaderboard")] = False,
) -> Response:
    """The event's projects, shuffled, or ranked by points when `leaderboard=true`.

    Public, like the event page (the gallery and results page are shared links; a draft's for
    its owner only). Ranking needs the leaderboard shown (the event closed, or its live
    leaderboard on); ties keep submission order; points are null while it is not. Not
    paginated: an event holds at most a few thousand projects. Send the `ETag` back in
    `If-None-Match` to poll: 304 until anything the list shows changes.
    """
    await phases.require_visible(event.phase, event.owner.pk, viewer_of(request), "event")
    etag = await leaderboard.event_projects_etag(
        db, event, settings.id_key_value, leaderboard=leaderboard_order
    )
    return await conditional.json_for_tag(
        conditional.if_none_match(request),
        etag,
        lambda: leaderboard.event_projects_json(db, event, leaderboard=leaderboard_order),
    )


@router.get(
    "/projects/mine", response_model=list[ProjectPrivate], responses=error_responses(401, 503)
)
async def list_my_projects(user: CurrentUser, db: Db) -> list[ProjectPrivate]:
    """The projects the caller owns or collaborates on, with their join codes."""
    return await service.my_projects(db, user)


@router.post(
    "/projects/",
    response_model=ProjectPrivate,
    status_code=201,
    responses=error_responses(400, 401, 403, 404, 422, 429, 503),
    dependencies=[per_user(Bucket.PROJECT_CREATE)],
)
async def create_project(
    body: ProjectCreate, user: CurrentUser, db: Db, settings: SettingsDep
) -> ProjectPrivate:
    """Submit a project to an event the caller attends, while its phase takes submissions."""
    async with db.transaction() as tx:
        return await service.create_project(tx, user, body, link_check_mode=settings.link_checks)


@router.post(
    "/projects/join",
    response_model=ProjectPrivate,
    responses=error_responses(401, 403, 404, 409, 422, 429, 503),
)
async def join_project(
    join_code: Annotated[str, Query(min_length=1, max_length=64)],
    user: CurrentUser,
    db: Db,
    settings: SettingsDep,
    address: ClientAddress,
) -> ProjectPrivate:
    """Join a project as a collaborator with its join code (case-insensitive).

    A code of an event the caller does not attend answers as a wrong one (404); wrong codes are
    limited per account and per network (429 past the limit).
    """
    attempt = rate_limits.join_code_attempt(db, settings, user.pk, address)
    async with attempt, db.transaction() as tx:
        return await service.join_project(tx, user, join_code)


# The two quality-check routes open no request transaction on purpose: it would hold a
# database connection for as long as the review service takes to answer. The only write
# (storing a finished result) runs in its own short transaction after the upstream call.


@router.post(
    "/projects/check/start",
    response_model=ProjectCheck,
    responses=error_responses(401, 403, 404, 422, 502, 503),
)
async def start_project_check(
    body: ProjectCheckStart, user: CurrentUser, settings: SettingsDep, db: Db
) -> ProjectCheck:
    """Start a quality check of one of the caller's projects (a stored result is returned)."""
    return await review.start_check(db, settings, body.project, user)


@router.get(
    "/projects/check/{check_id}",
    response_model=ProjectCheck,
    responses=error_responses(401, 403, 404, 422, 502, 503),
)
async def get_project_check(
    check_id: str, user: CurrentUser, settings: SettingsDep, db: Db
) -> ProjectCheck:
    """A quality check's status; a finished result is stored on the project."""
    return await review.get_check(db, settings, check_id, user)


@router.get(
    "/projects/{project_id}",
    response_model=ProjectPublic,
    responses={**conditional_responses(), **error_responses(404, 422, 503)},
    openapi_extra=conditional.IF_NONE_MATCH,
)
async def get_project(project: PathProject, db: ReadDb, request: Request) -> Response:
    """A project's public view, with its owner's and collaborators' display names."""
    body = (await service.project_public(db, project)).model_dump_json().encode()
    return conditional.json_with_etag(
        conditional.if_none_match(request), body, conditional.body_etag(body)
    )


@router.put(
    "/projects/{project_id}",
    response_model=ProjectPrivate,
    responses=error_responses(400, 401, 403, 404, 422, 429, 503),
    dependencies=[per_user(Bucket.EDITS)],
)
async def update_project(
    user: CurrentUser, project: PathProject, body: ProjectUpdate, db: Db, settings: SettingsDep
) -> ProjectPrivate:
    """Replace a project's editable fields (owner only; the event cannot change). A change of
    `repo` or `demo` queues a link check."""
    async with db.transaction() as tx:
        return await service.update_project(
            tx, project, user, body, link_check_mode=settings.link_checks
        )


@router.delete(
    "/projects/{project_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def delete_project(
    user: CurrentUser, project: PathProject, db: Db, settings: SettingsDep
) -> None:
    """Move a project with its collaborators and votes to the trash (owner only; restorable
    until it is purged)."""
    async with db.transaction() as tx:
        await service.delete_project(tx, project, user, settings.trash_retention)


_link_check_responses = error_responses(401, 403, 404, 422, 429, 503)
_link_check_responses[429]["headers"] = {
    "Retry-After": {
        "description": "Seconds until another check of this project may be asked for",
        "schema": {"type": "integer"},
    }
}


@router.post(
    "/projects/{project_id}/link-check",
    response_model=LinkCheck,
    status_code=202,
    responses=_link_check_responses,
)
async def request_link_check(
    user: CurrentUser, project: PathProject, db: Db, settings: SettingsDep
) -> LinkCheck:
    """Ask for a new check of the project's links (its owner or the event's organiser; once
    per `PODIUM_LINK_CHECK_RECHECK_SECONDS`, 60 by default); a worker runs it shortly."""
    async with db.transaction() as tx:
        return await link_checks.request_recheck(tx, project, user, settings)


@router.get(
    "/projects/{project_id}/link-check",
    response_model=LinkCheck,
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_link_check(user: CurrentUser, project: PathProject, db: Db) -> LinkCheck:
    """The project's link check: status and reasons (its owner or the event's organiser)."""
    return await link_checks.status(db, project, user)
