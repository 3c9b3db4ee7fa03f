"""Project rules: create, edit, delete, join as a collaborator; the member's views."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy
from sqlalchemy import exc as sa_exc

from podium import db
from podium.errors import ApiError, ErrorCode, bad_request, conflict, not_found
from podium.models import Event, Project, ProjectCollaborator, User
from podium.models.constraints import Constraint, SqlState
from podium.queries import members
from podium.queries import projects as project_rows
from podium.schemas.projects import (
    ProjectCreate,
    ProjectFields,
    ProjectPrivate,
    ProjectPublic,
)
from podium.services import leaderboard
from podium.services.access import is_attendee
from podium.services.join_codes import normalise_join_code, with_unique_join_code

projects = Project.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table


def _require_project_owner(project: Project, user: User) -> None:
    if project.owner.pk != user.pk:
        raise ApiError(403, ErrorCode.NOT_PROJECT_OWNER, "only the project's owner may do this")


async def is_member(project_id: uuid.UUID, owner_id: uuid.UUID, user: User) -> bool:
    """Whether `user` owns or collaborates on the project."""
    return owner_id == user.pk or await members.collaborates(project_id, user.pk)


def _checked_demo(event: Event, demo: str | None) -> str:
    if not demo and not event.demo_links_optional:
        raise bad_request(ErrorCode.DEMO_REQUIRED, "this event requires a demo link")
    return demo or ""


def _editable_values(data: ProjectFields, event: Event) -> dict[str, Any]:
    return {
        "name": data.name,
        "repo": data.repo,
        "image_url": data.image_url,
        "demo": _checked_demo(event, data.demo),
        "description": data.description,
        "hours_spent": data.hours_spent,
    }


async def _private(project_id: uuid.UUID) -> ProjectPrivate:
    row = await project_rows.one(project_id)
    if row is None:
        raise not_found("project")
    return leaderboard.private_view(row)


async def project_public(project: Project) -> ProjectPublic:
    row = await project_rows.one(project.pk)
    if row is None:
        raise not_found("project")
    return leaderboard.public_view(row)


async def my_projects(user: User) -> list[ProjectPrivate]:
    """The projects `user` owns or collaborates on, oldest first."""
    rows = await project_rows.of_member(user.pk)
    return [leaderboard.private_view(row) for row in rows]


async def _insert_project(values: dict[str, Any]) -> uuid.UUID:
    """Insert with a fresh join code (retried on a clash by services.join_codes)."""

    async def insert(join_code: str) -> uuid.UUID:
        conn = db.database.get_transaction_connection()
        assert conn is not None
        project_id: uuid.UUID = await conn.scalar(
            sqlalchemy.insert(projects)
            .values(id=uuid.uuid4(), join_code=join_code, **values)
            .returning(projects.c.id)
        )
        return project_id

    try:
        return await with_unique_join_code(insert, Constraint.PROJECTS_JOIN_CODE)
    except sa_exc.IntegrityError as error:
        if db.violation(error).sqlstate == SqlState.FOREIGN_KEY_VIOLATION:
            raise not_found("event") from None  # deleted while we were checking
        raise


async def create_project(owner: User, data: ProjectCreate) -> ProjectPrivate:
    """A new project of an event the owner attends."""
    event = await Event.objects.get_or_none(seq=data.event)
    if event is None:
        raise not_found("event")
    if not await is_attendee(event.pk, owner.pk):
        raise ApiError(
            403, ErrorCode.NOT_ATTENDING, "you must attend the event to submit a project"
        )
    values = _editable_values(data, event)
    project_id = await _insert_project({**values, "owner_id": owner.pk, "event_id": event.pk})
    return await _private(project_id)


async def update_project(project: Project, user: User, data: ProjectFields) -> ProjectPrivate:
    """Replace the editable fields of the caller's own project."""
    _require_project_owner(project, user)
    event = await Event.objects.get(pk=project.event.pk)
    async with db.transaction() as conn:
        await conn.execute(
            sqlalchemy.update(projects)
            .where(projects.c.id == project.pk)
            .values(**_editable_values(data, event))
        )
    return await _private(project.pk)


async def delete_project(project: Project, user: User) -> None:
    """Delete the caller's own project (its collaborators and votes go with it)."""
    _require_project_owner(project, user)
    async with db.transaction() as conn:
        await conn.execute(sqlalchemy.delete(projects).where(projects.c.id == project.pk))


async def join_project(user: User, join_code: str) -> ProjectPrivate:
    """Add the caller as a collaborator of the project with this join code."""
    code = normalise_join_code(join_code)
    project = await Project.objects.get_or_none(join_code=code) if code else None
    if project is None:
        raise not_found("project with this join code")
    if not await is_attendee(project.event.pk, user.pk):
        raise ApiError(
            403, ErrorCode.NOT_ATTENDING, "you must attend the project's event to join the project"
        )
    already = conflict(ErrorCode.ALREADY_MEMBER, "you are already a member of this project")
    if project.owner.pk == user.pk:
        raise already
    try:
        # A SAVEPOINT, so a concurrent join's duplicate does not abort the request.
        async with db.transaction() as conn:
            await conn.execute(
                sqlalchemy.insert(collaborators).values(
                    id=uuid.uuid4(), project_id=project.pk, user_id=user.pk
                )
            )
    except sa_exc.IntegrityError as error:
        sqlstate = db.violation(error).sqlstate
        if sqlstate == SqlState.UNIQUE_VIOLATION:
            raise already from None
        if sqlstate == SqlState.FOREIGN_KEY_VIOLATION:
            raise not_found("project with this join code") from None
        raise
    return await _private(project.pk)
