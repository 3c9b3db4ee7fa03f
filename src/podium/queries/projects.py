"""Projects with everything their views show: one projection, read three ways.

The projection (`_columns`) is written once: the project, its event's seq and whether it shows
points, its owner, its collaborators as two arrays (seqs and display names, in joining order:
arrays decode far faster than JSON) and its points, counted from the votes, never stored. The owner's
views add the private columns. The reads differ only in how they reach votes and collaborators:

- an event's list aggregates them once for the whole event (a hash join), the hot path;
- one project, or a member's projects across events, count them per project (indexed by
  `project_id`).

Every read returns a bounded number of rows (MAX_LISTED_PROJECTS).
"""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

import sqlalchemy
from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record
from podium.models import Event, LinkCheck, Project, ProjectCollaborator, User, Vote
from podium.queries.events import LEADERBOARD_SHOWN
from podium.queries.statement import Statement

projects = Project.ormar_config.table
events = Event.ormar_config.table
votes = Vote.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
link_checks = LinkCheck.ormar_config.table
owners = User.ormar_config.table.alias("owner")
members = User.ormar_config.table.alias("member")

# Project lists are not paginated (v1's shape, and a shuffled list cannot be paged), so they
# stop here: 5x the largest hackathon we plan for.
MAX_LISTED_PROJECTS = 5000
_EMPTY_ARRAY: ColumnElement[Any] = sqlalchemy.literal_column("'{}'")


# The project's own columns every view shows as they are stored, in the views' field order: the
# views (podium.services.leaderboard) copy these by name. A column added here, and to the
# view's schema, shows in every project view.
SHOWN_AS_STORED: tuple[ColumnElement[Any], ...] = (
    projects.c.name,
    projects.c.repo,
    projects.c.image_url,
    projects.c.demo,
    projects.c.description,
    projects.c.hours_spent,
)
SHOWN_AS_STORED_NAMES: tuple[str, ...] = tuple(str(column.name) for column in SHOWN_AS_STORED)


class Order(Enum):
    RANDOM = "random"
    LEADERBOARD = "leaderboard"
    CREATED = "created"


def _columns(
    points: Any, collaborator_seqs: Any, collaborator_names: Any, *, private: bool
) -> list[ColumnElement[Any]]:
    public: list[ColumnElement[Any]] = [
        projects.c.seq,
        *SHOWN_AS_STORED,
        events.c.seq.label("event_seq"),
        LEADERBOARD_SHOWN.label("leaderboard_enabled"),
        owners.c.seq.label("owner_seq"),
        owners.c.display_name.label("owner_display_name"),
        func.coalesce(
            collaborator_seqs, _EMPTY_ARRAY, type_=postgresql.ARRAY(sqlalchemy.BigInteger)
        ).label("collaborator_seqs"),
        func.coalesce(
            collaborator_names, _EMPTY_ARRAY, type_=postgresql.ARRAY(sqlalchemy.String)
        ).label("collaborator_names"),
        func.coalesce(points, sqlalchemy.literal_column("0")).label("points"),
    ]
    if not private:
        return public
    return [
        *public,
        projects.c.id,
        projects.c.join_code,
        projects.c.cached_auto_quality,
        projects.c.created_at,
        owners.c.email.label("owner_email"),
        # The link check (NULLs when never checked); reasons as text, so that a row stays
        # hashable for the list memo (services.leaderboard) and decodes once per new row.
        link_checks.c.status.label("link_check_status"),
        sqlalchemy.cast(link_checks.c.reasons, sqlalchemy.Text).label("link_check_reasons"),
        link_checks.c.checked_at.label("link_check_checked_at"),
        link_checks.c.requested_at.label("link_check_requested_at"),
    ]


def _in_joining_order(column: Any) -> Any:
    return func.array_agg(
        postgresql.aggregate_order_by(column, collaborators.c.created_at, collaborators.c.seq)
    )


def _with_event_and_owner(*, private: bool) -> Any:
    joined = projects.join(events, events.c.id == projects.c.event_id).join(
        owners, owners.c.id == projects.c.owner_id
    )
    if not private:
        return joined
    return joined.outerjoin(link_checks, link_checks.c.project_id == projects.c.id)


_ORDERS: dict[Order, tuple[Any, ...]] = {
    Order.RANDOM: (func.random(),),
    # Ties: the earlier submission first, then the sequence (unique), so the order is total.
    Order.LEADERBOARD: (sqlalchemy.desc("points"), projects.c.created_at, projects.c.seq),
    Order.CREATED: (projects.c.created_at, projects.c.seq),
}


def _event_list(order: Order, *, private: bool) -> Statement:
    """One event's projects; votes and collaborators aggregated once for the event."""
    event_id = bindparam("event_id", type_=postgresql.UUID(as_uuid=True))
    points = (
        select(votes.c.project_id, func.count().label("points"))
        .where(votes.c.event_id == event_id)
        .group_by(votes.c.project_id)
        .subquery("v")
    )
    in_event = projects.alias("cp")
    team = (
        select(
            collaborators.c.project_id,
            _in_joining_order(members.c.seq).label("seqs"),
            _in_joining_order(members.c.display_name).label("names"),
        )
        .select_from(
            collaborators.join(in_event, in_event.c.id == collaborators.c.project_id).join(
                members, members.c.id == collaborators.c.user_id
            )
        )
        .where(in_event.c.event_id == event_id)
        .group_by(collaborators.c.project_id)
        .subquery("m")
    )
    query = (
        select(*_columns(points.c.points, team.c.seqs, team.c.names, private=private))
        .select_from(
            _with_event_and_owner(private=private)
            .outerjoin(points, points.c.project_id == projects.c.id)
            .outerjoin(team, team.c.project_id == projects.c.id)
        )
        .where(projects.c.event_id == event_id)
        .order_by(*_ORDERS[order])
        .limit(MAX_LISTED_PROJECTS)
    )
    return Statement(query)


def _per_project(where: ColumnElement[bool], order: Order) -> Statement:
    """Projects matching `where`, each counting its own votes and collaborators."""
    points = (
        select(func.count())
        .select_from(votes)
        .where(votes.c.project_id == projects.c.id)
        .scalar_subquery()
    )

    def team(column: Any) -> Any:
        return (
            select(_in_joining_order(column))
            .select_from(collaborators.join(members, members.c.id == collaborators.c.user_id))
            .where(collaborators.c.project_id == projects.c.id)
            .scalar_subquery()
        )

    query = (
        select(*_columns(points, team(members.c.seq), team(members.c.display_name), private=True))
        .select_from(_with_event_and_owner(private=True))
        .where(where)
        .order_by(*_ORDERS[order])
        .limit(MAX_LISTED_PROJECTS)
    )
    return Statement(query)


_EVENT_LISTS = {
    (order, private): _event_list(order, private=private)
    for order in (Order.RANDOM, Order.LEADERBOARD)
    for private in (False, True)
}
_ONE = _per_project(projects.c.id == bindparam("project_id"), Order.CREATED)
_MEMBER = bindparam("user_id", type_=postgresql.UUID(as_uuid=True))
_OF_MEMBER = _per_project(
    sqlalchemy.or_(
        projects.c.owner_id == _MEMBER,
        sqlalchemy.exists().where(
            collaborators.c.project_id == projects.c.id, collaborators.c.user_id == _MEMBER
        ),
    ),
    Order.CREATED,
)


async def of_event(
    db: Executor, event_id: uuid.UUID, order: Order, *, private: bool
) -> list[Record]:
    """Every project of one event, public or with the owner's columns."""
    return await _EVENT_LISTS[order, private].fetch(db, event_id=event_id)


async def one(db: Executor, project_id: uuid.UUID) -> Record | None:
    """One project, with the owner's columns."""
    return await _ONE.fetchrow(db, project_id=project_id)


async def of_member(db: Executor, user_id: uuid.UUID) -> list[Record]:
    """The projects a user owns or collaborates on, oldest first, with the owner's columns."""
    return await _OF_MEMBER.fetch(db, user_id=user_id)
