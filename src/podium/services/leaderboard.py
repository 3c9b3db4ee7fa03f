"""Project lists and views with points: one query per list, points counted from the votes.

Points are never stored: they are a `count(*)` over `votes`, computed in the same statement that
reads the projects, their owner, event and collaborators, so a list costs one query whatever its
length and always equals the vote count. An event's lists (the hot ones) aggregate votes and
collaborators once for the whole event; other lists count per project (indexed by `project_id`).

Lists of an event's projects are returned whole, not paginated: an event holds at most a few
thousand projects (a hackathon's teams), and the random order of the public list cannot be
paged consistently anyway. Every list still stops at MAX_LISTED_PROJECTS rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import pydantic_core
import sqlalchemy
from sqlalchemy import ColumnElement, RowMapping, func, select
from sqlalchemy.dialects import postgresql

from podium.db import database
from podium.errors import ApiError, ErrorCode
from podium.http.conditional import keyed_etag
from podium.ids import Entity
from podium.models import Event, Project, ProjectCollaborator, User, Vote
from podium.public_ids import public_id
from podium.schemas.projects import ProjectPrivate, ProjectPublic

projects = Project.ormar_config.table
events = Event.ormar_config.table
votes = Vote.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
owners = User.ormar_config.table.alias("owner")
members = User.ormar_config.table.alias("member")


# Every query returns a bounded number of rows. Project lists are not paginated (v1's shape, and
# a shuffled list cannot be paged), so they stop here: 5x the largest hackathon we plan for.
MAX_LISTED_PROJECTS = 5000


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


def _collaborators(column: Any) -> Any:
    """One array per collaborator column, in joining order (arrays decode far faster than JSON)."""
    ordered = postgresql.aggregate_order_by(column, collaborators.c.created_at, collaborators.c.seq)
    return (
        select(
            func.coalesce(
                func.array_agg(ordered),
                sqlalchemy.literal_column("'{}'"),
                type_=postgresql.ARRAY(column.type),
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
            _collaborators(members.c.seq).label("collaborator_seqs"),
            _collaborators(members.c.display_name).label("collaborator_names"),
            _points().label("points"),
        )
        .select_from(
            projects.join(events, events.c.id == projects.c.event_id).join(
                owners, owners.c.id == projects.c.owner_id
            )
        )
        .where(where)
        .order_by(*_ORDERS[order])
        .limit(MAX_LISTED_PROJECTS)
    )
    async with database.connection() as conn:
        result = await conn.execute(query)
        return result.mappings().all()


# Rows of either query below: SQLAlchemy RowMappings or asyncpg Records, same column names.
Row = RowMapping | Mapping[str, Any]


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


# One project (GET /projects/{id} and the member's views): read with asyncpg like the lists.
_PROJECT_SQL = """
SELECT p.id, p.seq, p.name, p.repo, p.image_url, p.demo, p.description, p.hours_spent,
       p.join_code, p.cached_auto_quality, p.created_at,
       e.seq AS event_seq, e.leaderboard_enabled,
       o.seq AS owner_seq, o.display_name AS owner_display_name, o.email AS owner_email,
       coalesce(m.seqs, '{}') AS collaborator_seqs, coalesce(m.names, '{}') AS collaborator_names,
       (SELECT count(*) FROM votes v WHERE v.project_id = p.id) AS points
FROM projects p
JOIN events e ON e.id = p.event_id
JOIN users o ON o.id = p.owner_id
CROSS JOIN LATERAL (
    SELECT array_agg(u.seq ORDER BY c.created_at, c.seq) AS seqs,
           array_agg(u.display_name ORDER BY c.created_at, c.seq) AS names
    FROM project_collaborators c JOIN users u ON u.id = c.user_id
    WHERE c.project_id = p.id
) m
WHERE p.id = $1
"""


async def fetch_project(project_id: uuid.UUID) -> Row | None:
    return await database.fetchrow(_PROJECT_SQL, project_id)


# An event's projects: the same columns as fetch_projects, but points and collaborators are
# aggregated once for the whole event (a hash join) rather than per project, and the rows are
# read with asyncpg directly (SQLAlchemy's row processing cost more than the query itself).
_EVENT_PROJECTS_SQL = """
SELECT p.seq, p.name, p.repo, p.image_url, p.demo, p.description, p.hours_spent,
       e.seq AS event_seq, e.leaderboard_enabled,
       o.seq AS owner_seq, o.display_name AS owner_display_name, {private_columns}
       coalesce(m.seqs, '{{}}') AS collaborator_seqs,
       coalesce(m.names, '{{}}') AS collaborator_names,
       coalesce(v.points, 0) AS points
FROM projects p
JOIN events e ON e.id = p.event_id
JOIN users o ON o.id = p.owner_id
LEFT JOIN (
    SELECT project_id, count(*) AS points FROM votes WHERE event_id = $1 GROUP BY project_id
) v ON v.project_id = p.id
LEFT JOIN (
    SELECT c.project_id,
           array_agg(u.seq ORDER BY c.created_at, c.seq) AS seqs,
           array_agg(u.display_name ORDER BY c.created_at, c.seq) AS names
    FROM project_collaborators c
    JOIN projects cp ON cp.id = c.project_id
    JOIN users u ON u.id = c.user_id
    WHERE cp.event_id = $1
    GROUP BY c.project_id
) m ON m.project_id = p.id
WHERE p.event_id = $1
ORDER BY {order}
LIMIT $2
"""
# What the owner's views add to the public one.
_PRIVATE_COLUMNS = "p.id, p.join_code, p.cached_auto_quality, p.created_at, o.email AS owner_email,"
_EVENT_ORDERS = {
    Order.RANDOM: "random()",
    Order.LEADERBOARD: "points DESC, p.created_at, p.seq",
    Order.CREATED: "p.created_at, p.seq",
}


async def fetch_event_projects(
    event_id: uuid.UUID, order: Order, *, private: bool = False
) -> list[Row]:
    """Every project of one event, with owner, collaborators and points: one query."""
    sql = _EVENT_PROJECTS_SQL.format(
        order=_EVENT_ORDERS[order], private_columns=_PRIVATE_COLUMNS if private else ""
    )
    return await database.fetch(sql, event_id, MAX_LISTED_PROJECTS)


async def _revisions(event_id: uuid.UUID) -> tuple[int, int]:
    """The event's (content, votes) revision counters; (0, 0) before its first change."""
    row = await database.fetchrow(
        "SELECT content_revision, votes_revision FROM event_revisions WHERE event_id = $1",
        event_id,
    )
    return (0, 0) if row is None else (row["content_revision"], row["votes_revision"])


def _require_public_leaderboard(event: Event, leaderboard: bool) -> None:
    if leaderboard and not event.leaderboard_enabled:
        raise ApiError(
            403,
            ErrorCode.LEADERBOARD_DISABLED,
            "the organiser has not enabled this event's leaderboard",
        )


async def event_projects_etag(event: Event, secret: str, *, leaderboard: bool) -> str:
    """The tag of the event's public project list: changes with anything the list shows.

    Votes count only while points are shown: a hidden leaderboard's tag must not move with
    every vote (it would tell who is winning when, the very thing the organiser hides).
    """
    _require_public_leaderboard(event, leaderboard)
    content, votes = await _revisions(event.pk)
    shown_votes = votes if event.leaderboard_enabled else "-"
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    return keyed_etag(secret, "projects", event.seq, order.value, content, shown_votes)


async def event_projects_json(event: Event, *, leaderboard: bool) -> bytes:
    """The event's projects, shuffled or ranked, as JSON; public (v1 served it to anyone).

    Serialised straight from the rows (a list of `ProjectPublic`, as the route declares and the
    contract tests check): validating 1,000 freshly built objects cost more than the query.
    """
    _require_public_leaderboard(event, leaderboard)
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    rows = await fetch_event_projects(event.pk, order)
    return pydantic_core.to_json([_public_fields(row) for row in rows])


async def admin_leaderboard_etag(event: Event, secret: str) -> str:
    content, votes = await _revisions(event.pk)
    return keyed_etag(secret, "admin-leaderboard", event.seq, content, votes)


async def admin_leaderboard_json(event: Event) -> bytes:
    """Every project of the event ranked by points, whatever the leaderboard flag says."""
    rows = await fetch_event_projects(event.pk, Order.LEADERBOARD, private=True)
    return pydantic_core.to_json([_admin_fields(row) for row in rows])
