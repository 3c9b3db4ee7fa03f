"""Project lists and views with points: one query per list, points counted from the votes.

Points are never stored: each row's points are a correlated `count(*)` over `votes` (indexed by
`project_id`), computed in the same statement that reads the projects, their owner, event and
collaborators, so a list costs one query whatever its length and always equals the vote count.

Lists of an event's projects are returned whole, not paginated: an event holds at most a few
thousand projects (a hackathon's teams), and the random order of the public list cannot be
paged consistently anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import Enum
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, RowMapping, func, select
from sqlalchemy.dialects import postgresql

from podium.db import database
from podium.errors import ApiError
from podium.ids import Entity
from podium.models import Event, Project, ProjectCollaborator, User, Vote
from podium.public_ids import public_id
from podium.schemas.common import UserPublic
from podium.schemas.projects import ProjectAdmin, ProjectPrivate, ProjectPublic
from podium.services.access import is_attendee, is_owner, require_owner

projects = Project.ormar_config.table
events = Event.ormar_config.table
votes = Vote.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
owners = User.ormar_config.table.alias("owner")
members = User.ormar_config.table.alias("member")


class Order(Enum):
    RANDOM = "random"
    LEADERBOARD = "leaderboard"
    CREATED = "created"


def _points() -> Any:
    return (
        select(func.count())
        .select_from(votes)
        .where(votes.c.project_id == projects.c.id)
        .scalar_subquery()
    )


def _collaborators() -> Any:
    member = func.jsonb_build_object("seq", members.c.seq, "display_name", members.c.display_name)
    ordered = postgresql.aggregate_order_by(member, collaborators.c.created_at, collaborators.c.seq)
    return (
        select(
            func.coalesce(
                func.jsonb_agg(ordered),
                sqlalchemy.literal_column("'[]'::jsonb"),
                type_=postgresql.JSONB,
            )
        )
        .select_from(collaborators.join(members, members.c.id == collaborators.c.user_id))
        .where(collaborators.c.project_id == projects.c.id)
        .scalar_subquery()
    )


_ORDERS: dict[Order, tuple[Any, ...]] = {
    Order.RANDOM: (func.random(),),
    # Ties: the earlier submission first, then the sequence (unique), so the order is total.
    Order.LEADERBOARD: (
        sqlalchemy.desc("points"),
        projects.c.created_at,
        projects.c.seq,
    ),
    Order.CREATED: (projects.c.created_at, projects.c.seq),
}


async def fetch_projects(where: ColumnElement[bool], order: Order) -> Sequence[RowMapping]:
    """Every project matching `where`, with owner, event, collaborators and points: one query."""
    query = (
        select(
            projects.c.id,
            projects.c.seq,
            projects.c.name,
            projects.c.repo,
            projects.c.image_url,
            projects.c.demo,
            projects.c.description,
            projects.c.hours_spent,
            projects.c.join_code,
            projects.c.cached_auto_quality,
            projects.c.created_at,
            events.c.seq.label("event_seq"),
            events.c.leaderboard_enabled,
            owners.c.seq.label("owner_seq"),
            owners.c.display_name.label("owner_display_name"),
            owners.c.email.label("owner_email"),
            _collaborators().label("collaborators"),
            _points().label("points"),
        )
        .select_from(
            projects.join(events, events.c.id == projects.c.event_id).join(
                owners, owners.c.id == projects.c.owner_id
            )
        )
        .where(where)
        .order_by(*_ORDERS[order])
    )
    async with database.connection() as conn:
        result = await conn.execute(query)
        return result.mappings().all()


def _public_fields(row: RowMapping) -> dict[str, Any]:
    return {
        "id": public_id(Entity.PROJECT, row["seq"]),
        "name": row["name"],
        "repo": row["repo"],
        "image_url": row["image_url"],
        "demo": row["demo"],
        "description": row["description"],
        "hours_spent": row["hours_spent"],
        "event_id": public_id(Entity.EVENT, row["event_seq"]),
        "owner": UserPublic(
            id=public_id(Entity.USER, row["owner_seq"]),
            display_name=row["owner_display_name"],
        ),
        "collaborators": [
            UserPublic(
                id=public_id(Entity.USER, member["seq"]), display_name=member["display_name"]
            )
            for member in row["collaborators"]
        ],
        # Points would reveal the ranking the organiser has not published yet.
        "points": row["points"] if row["leaderboard_enabled"] else None,
    }


def _private_fields(row: RowMapping) -> dict[str, Any]:
    return {
        **_public_fields(row),
        "join_code": row["join_code"],
        "cached_auto_quality": row["cached_auto_quality"],
    }


def public_view(row: RowMapping) -> ProjectPublic:
    return ProjectPublic(**_public_fields(row))


def private_view(row: RowMapping) -> ProjectPrivate:
    return ProjectPrivate(**_private_fields(row))


def admin_view(row: RowMapping) -> ProjectAdmin:
    return ProjectAdmin(
        **{**_private_fields(row), "points": row["points"]},
        owner_email=row["owner_email"],
        created_at=row["created_at"],
    )


async def fetch_project(project_id: uuid.UUID) -> RowMapping | None:
    rows = await fetch_projects(projects.c.id == project_id, Order.CREATED)
    return rows[0] if rows else None


async def event_projects(event: Event, viewer: User, *, leaderboard: bool) -> list[ProjectPublic]:
    """The event's projects for an attendee or its owner: shuffled, or ranked by points."""
    if not is_owner(event, viewer) and not await is_attendee(event.pk, viewer.pk):
        raise ApiError(403, "not_attending", "only the event's attendees may list its projects")
    if leaderboard and not event.leaderboard_enabled:
        raise ApiError(
            403, "leaderboard_disabled", "the organiser has not enabled this event's leaderboard"
        )
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    rows = await fetch_projects(projects.c.event_id == event.pk, order)
    return [public_view(row) for row in rows]


async def admin_leaderboard(event: Event, viewer: User) -> list[ProjectAdmin]:
    """Every project of the event ranked by points, whatever the leaderboard flag says."""
    require_owner(event, viewer)
    rows = await fetch_projects(projects.c.event_id == event.pk, Order.LEADERBOARD)
    return [admin_view(row) for row in rows]
