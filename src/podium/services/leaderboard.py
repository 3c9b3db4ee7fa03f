"""Project views with points, and the event's project lists and leaderboards.

The rows come from podium.queries.projects (one statement per list, points counted from the
votes in it); this module shapes them into the public, private and admin views, decides who may
see a ranking, and tags the lists for conditional GET.

Lists of an event's projects are returned whole, not paginated: an event holds at most a few
thousand projects (a hackathon's teams), and the random order of the public list cannot be
paged consistently anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic_core

from podium.db import Executor
from podium.errors import ApiError, ErrorCode
from podium.http.conditional import keyed_etag
from podium.ids import Entity
from podium.models import Event
from podium.public_ids import public_id
from podium.queries import projects as project_rows
from podium.queries import revisions
from podium.queries.projects import Order
from podium.schemas.projects import ProjectPrivate, ProjectPublic

# A project row of podium.queries.projects, read by column name.
Row = Mapping[str, Any]


def _public_fields(row: Row) -> dict[str, Any]:
    # Plain dicts, validated by pydantic in one call per list: building a model per project
    # (and per person) in Python cost more than the query on a 1,000-project leaderboard.
    return {
        "id": public_id(Entity.PROJECT, row["seq"]),
        "name": row["name"],
        "repo": row["repo"],
        "image_url": row["image_url"],
        "demo": row["demo"],
        "description": row["description"],
        "hours_spent": row["hours_spent"],
        "event_id": public_id(Entity.EVENT, row["event_seq"]),
        "owner": {
            "id": public_id(Entity.USER, row["owner_seq"]),
            "display_name": row["owner_display_name"],
        },
        "collaborators": [
            {"id": public_id(Entity.USER, seq), "display_name": name}
            for seq, name in zip(row["collaborator_seqs"], row["collaborator_names"], strict=True)
        ],
        # Points would reveal the ranking the organiser has not published yet.
        "points": row["points"] if row["leaderboard_enabled"] else None,
    }


def _private_fields(row: Row) -> dict[str, Any]:
    return {
        **_public_fields(row),
        "join_code": row["join_code"],
        "cached_auto_quality": row["cached_auto_quality"],
    }


def _admin_fields(row: Row) -> dict[str, Any]:
    return {
        **_private_fields(row),
        "points": row["points"],
        "owner_email": row["owner_email"],
        "created_at": row["created_at"],
    }


def public_view(row: Row) -> ProjectPublic:
    return ProjectPublic.model_validate(_public_fields(row))


def private_view(row: Row) -> ProjectPrivate:
    return ProjectPrivate.model_validate(_private_fields(row))


def _require_public_leaderboard(event: Event, leaderboard: bool) -> None:
    if leaderboard and not event.leaderboard_enabled:
        raise ApiError(
            403,
            ErrorCode.LEADERBOARD_DISABLED,
            "the organiser has not enabled this event's leaderboard",
        )


async def event_projects_etag(db: Executor, event: Event, secret: str, *, leaderboard: bool) -> str:
    """The tag of the event's public project list: changes with anything the list shows.

    Votes count only while points are shown: a hidden leaderboard's tag must not move with
    every vote (it would tell who is winning when, the very thing the organiser hides).
    """
    _require_public_leaderboard(event, leaderboard)
    content, votes = await revisions.of_event(db, event.pk)
    shown_votes = votes if event.leaderboard_enabled else "-"
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    return keyed_etag(secret, "projects", event.seq, order.value, content, shown_votes)


async def event_projects_json(db: Executor, event: Event, *, leaderboard: bool) -> bytes:
    """The event's projects, shuffled or ranked, as JSON; public (v1 served it to anyone).

    Serialised straight from the rows (a list of `ProjectPublic`, as the route declares and the
    contract tests check): validating 1,000 freshly built objects cost more than the query.
    """
    _require_public_leaderboard(event, leaderboard)
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    rows = await project_rows.of_event(db, event.pk, order, private=False)
    return pydantic_core.to_json([_public_fields(row) for row in rows])


async def admin_leaderboard_etag(db: Executor, event: Event, secret: str) -> str:
    content, votes = await revisions.of_event(db, event.pk)
    return keyed_etag(secret, "admin-leaderboard", event.seq, content, votes)


async def admin_leaderboard_json(db: Executor, event: Event) -> bytes:
    """Every project of the event ranked by points, whatever the leaderboard flag says."""
    rows = await project_rows.of_event(db, event.pk, Order.LEADERBOARD, private=True)
    return pydantic_core.to_json([_admin_fields(row) for row in rows])
