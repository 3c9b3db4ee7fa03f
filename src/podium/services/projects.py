"""Project rules: create, edit, delete, join as a collaborator; the member's views."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from podium.config import LinkCheckMode
from podium.db import Executor, Record, Transaction, violation
from podium.errors import ApiError, ErrorCode, bad_request, conflict, not_found
from podium.models import Project, User
from podium.models.audit import AuditAction, TargetKind
from podium.models.constraints import Constraint, SqlState
from podium.queries import IntegrityError, members, rows
from podium.queries import events as event_rows
from podium.queries import projects as project_rows
from podium.queries import trash as trash_rows
from podium.schemas.projects import (
    ProjectCreate,
    ProjectFields,
    ProjectPrivate,
    ProjectPublic,
)
from podium.services import audit, leaderboard, link_checks, phases, trash
from podium.services.access import is_attendee
from podium.services.join_codes import (
    WrongJoinCode,
    normalise_join_code,
    with_unique_join_code,
)


def _require_project_owner(project: Project, user: User) -> None:
    if project.owner.pk != user.pk:
        raise ApiError(403, ErrorCode.NOT_PROJECT_OWNER, "only the project's owner may do this")


async def is_member(db: Executor, project_id: uuid.UUID, owner_id: uuid.UUID, user: User) -> bool:
    """Whether `user` owns or collaborates on the project."""
    return owner_id == user.pk or await members.collaborates(db, project_id, user.pk)


def _checked_demo(event: Record, demo: str | None) -> str:
    if not demo and not event["demo_links_optional"]:
        raise bad_request(ErrorCode.DEMO_REQUIRED, "this event requires a demo link")
    return demo or ""


async def _event_open_for_projects(tx: Transaction, column: str, value: object) -> Record:
    """The project's event (by `id` or `seq`), share-locked, if its phase lets projects change:
    a phase change waits for this request, and one arriving after it is refused."""
    event = await event_rows.for_project_change(tx, column, value)
    if event is None:
        raise not_found("event")
    phases.require_project_changes_open(event["phase"], event["submissions_open_during_voting"])
    return event


def _editable_values(data: ProjectFields, event: Record) -> dict[str, Any]:
    return {
        "name": data.name,
        "repo": data.repo,
        "image_url": data.image_url,
        "demo": _checked_demo(event, data.demo),
        "description": data.description,
        "hours_spent": data.hours_spent,
    }


async def _private(db: Executor, project_id: uuid.UUID) -> ProjectPrivate:
    row = await project_rows.one(db, project_id)
    if row is None:
        raise not_found("project")
    return leaderboard.private_view(row)


async def project_public(db: Executor, project: Project) -> ProjectPublic:
    row = await project_rows.one(db, project.pk)
    if row is None:
        raise not_found("project")
    return leaderboard.public_view(row)


async def my_projects(db: Executor, user: User) -> list[ProjectPrivate]:
    """The projects `user` owns or collaborates on, oldest first."""
    return [leaderboard.private_view(row) for row in await project_rows.of_member(db, user.pk)]


async def _insert_project(tx: Transaction, values: dict[str, Any]) -> uuid.UUID:
    """Insert with a fresh join code (retried on a clash by services.join_codes)."""

    async def insert(join_code: str) -> uuid.UUID:
        project = await rows.create(tx, Project, {**values, "join_code": join_code})
        project_id: uuid.UUID = project.pk
        return project_id

    try:
        return await with_unique_join_code(
            tx, insert, Constraint.PROJECTS_JOIN_CODE, "project_join_code"
        )
    except IntegrityError as error:
        if violation(error).sqlstate == SqlState.FOREIGN_KEY_VIOLATION:
            raise not_found("event") from None  # deleted while we were checking
        raise


async def create_project(
    tx: Transaction,
    owner: User,
    data: ProjectCreate,
    *,
    link_check_mode: LinkCheckMode = LinkCheckMode.WORKER,
) -> ProjectPrivate:
    """A new project of an event the owner attends, while its phase takes projects; its links
    are queued for a check in the same transaction."""
    # Before the event's share lock (podium.queries.trash): the trash's lock is always first.
    await trash_rows.lock_values_shared(tx)
    event = await _event_open_for_projects(tx, "seq", data.event)
    if not await is_attendee(tx, event["id"], owner.pk):
        raise ApiError(
            403, ErrorCode.NOT_ATTENDING, "you must attend the event to submit a project"
        )
    values = _editable_values(data, event)
    project_id = await _insert_project(
        tx, {**values, "owner_id": owner.pk, "event_id": event["id"]}
    )
    await link_checks.enqueue(tx, project_id, link_check_mode)
    return await _private(tx, project_id)


async def update_project(
    tx: Transaction,
    project: Project,
    user: User,
    data: ProjectFields,
    *,
    link_check_mode: LinkCheckMode = LinkCheckMode.WORKER,
) -> ProjectPrivate:
    """Replace the editable fields of the caller's own project (a change of links queues a
    check of them)."""
    _require_project_owner(project, user)
    event = await _event_open_for_projects(tx, "id", project.event.pk)
    values = _editable_values(data, event)
    if await rows.change(tx, Project, project.pk, values) is None:
        raise not_found("project")  # deleted since the request began
    if link_checks.links_changed(project, values):
        await link_checks.enqueue(tx, project.pk, link_check_mode)
    return await _private(tx, project.pk)


async def delete_project(
    tx: Transaction, project: Project, user: User, retention: timedelta
) -> None:
    """Move the caller's own project to the trash (its collaborators, link check and votes go
    with it, out of every count).

    Audited when the caller organises the event (its owner, or a superadmin): an organiser's
    delete is an organiser's action; a participant deleting their entry is not.
    """
    _require_project_owner(project, user)
    await trash_rows.lock_values_exclusive(tx)  # before the event's share lock
    event = await _event_open_for_projects(tx, "id", project.event.pk)
    await trash.trash_project(tx, project, user, retention, event["seq"])
    if user.is_superadmin or user.pk == event["owner_id"]:
        await audit.record(
            tx,
            audit.Actor.organiser_of(user, event["owner_id"]),
            AuditAction.PROJECT_DELETED,
            event=audit.AuditedEvent(event["id"], event["seq"], event["name"]),
            target=(TargetKind.PROJECT, project.seq),
            changes={"name": [project.name, None]},
        )


async def join_project(tx: Transaction, user: User, join_code: str) -> ProjectPrivate:
    """Add the caller as a collaborator of the project with this join code."""
    code = normalise_join_code(join_code)
    project = await rows.one_by(tx, Project, "join_code", code) if code else None
    # A real code of an event the caller does not attend answers as a wrong one (and counts
    # against the join-code limits): only an attendee may learn that the code exists.
    if project is None or not await is_attendee(tx, project.event.pk, user.pk):
        raise WrongJoinCode("project")
    await _event_open_for_projects(tx, "id", project.event.pk)
    already = conflict(ErrorCode.ALREADY_MEMBER, "you are already a member of this project")
    if project.owner.pk == user.pk:
        raise already
    try:
        await members.add_collaborator(tx, project.pk, user.pk)
    except IntegrityError as error:
        # The request ends here either way: its transaction rolls back with the error.
        sqlstate = violation(error).sqlstate
        if sqlstate == SqlState.UNIQUE_VIOLATION:
            raise already from None
        if sqlstate == SqlState.FOREIGN_KEY_VIOLATION:
            raise WrongJoinCode("project") from None  # deleted meanwhile
        raise
    return await _private(tx, project.pk)
