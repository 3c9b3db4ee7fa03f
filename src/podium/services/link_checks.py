"""Project link checks seen from the API: queued with a change of links, asked for again by an
owner (rate-limited), shown to the project's and the event's owners. The checking itself is
podium.link_checks (a worker, never a request)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from podium.config import LinkCheckMode, Settings
from podium.db import Executor, Transaction
from podium.errors import ApiError, ErrorCode, not_found
from podium.models import Project, User
from podium.queries import link_checks as queue
from podium.schemas.projects import LinkCheck

# The project's fields a check looks at: a change to any other field queues nothing.
CHECKED_FIELDS = ("repo", "demo")


def links_changed(project: Project, values: Mapping[str, Any]) -> bool:
    return any(getattr(project, name) != values[name] for name in CHECKED_FIELDS)


async def enqueue(tx: Transaction, project_id: uuid.UUID, mode: LinkCheckMode) -> None:
    """Queue a check in the transaction that wrote the links (none when checks are off)."""
    if mode is not LinkCheckMode.OFF:
        await queue.enqueue(tx, project_id)


def view(row: Mapping[str, Any]) -> LinkCheck:
    return LinkCheck.model_validate(
        {
            "status": row["status"],
            "reasons": row["reasons"],
            "checked_at": row["checked_at"],
            "requested_at": row["requested_at"],
        }
    )


def admin_fields(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `link_check` of a project row of podium.queries.projects' owner views (None when
    never checked); the reasons arrive as JSON text, so that the row stays hashable."""
    if row["link_check_status"] is None:
        return None
    return {
        "status": row["link_check_status"],
        "reasons": json.loads(row["link_check_reasons"]),
        "checked_at": row["link_check_checked_at"],
        "requested_at": row["link_check_requested_at"],
    }


async def _require_owner_or_organiser(db: Executor, project: Project, user: User) -> None:
    owners = await queue.owners(db, project.pk)
    if owners is None:
        raise not_found("project")
    if user.pk not in (owners["owner_id"], owners["event_owner_id"]) and not user.is_superadmin:
        raise ApiError(
            403,
            ErrorCode.FORBIDDEN,
            "only the project's owner or the event's organiser may see or ask for its link check",
        )


async def status(db: Executor, project: Project, user: User) -> LinkCheck:
    await _require_owner_or_organiser(db, project, user)
    row = await queue.view(db, project.pk)
    if row is None:
        raise not_found("link check (the project's links were never checked)")
    return view(row)


async def request_recheck(
    tx: Transaction, project: Project, user: User, settings: Settings
) -> LinkCheck:
    """Queue a new check of the project's links, at most once per PODIUM_LINK_CHECK_RECHECK_SECONDS."""
    await _require_owner_or_organiser(tx, project, user)
    if settings.link_checks is LinkCheckMode.OFF:
        raise ApiError(503, ErrorCode.LINK_CHECKS_OFF, "link checks are turned off on this server")
    interval = timedelta(seconds=settings.link_check_recheck_seconds)
    wait = await queue.request_recheck(tx, project.pk, interval)
    if wait is not None:
        raise ApiError(
            429,
            ErrorCode.LINK_CHECK_TOO_SOON,
            f"a check of this project was asked for less than "
            f"{settings.link_check_recheck_seconds} s ago; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    row = await queue.view(tx, project.pk)
    assert row is not None  # queued just now, in this transaction
    return view(row)
