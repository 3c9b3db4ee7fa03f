"""The organiser's CSV exports, read in chunks: projects by rank, votes, attendees, referrals.

Each export is two statements built once: the first chunk, and the chunk after the last row's
key (a keyset comparison, so no OFFSET scan grows with the export). The service runs them in one
read-only REPEATABLE READ transaction, so every chunk sees the same state of the event: a vote
cast while an export streams neither moves a project between chunks nor shows up half-counted.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record
from podium.models import (
    EventAttendee,
    LinkCheck,
    Project,
    ProjectCollaborator,
    Referral,
    User,
    Vote,
)
from podium.queries.keyset import by_creation
from podium.queries.statement import Statement

projects = Project.ormar_config.table
users = User.ormar_config.table
votes = Vote.ormar_config.table
attendees = EventAttendee.ormar_config.table
referrals = Referral.ormar_config.table
collaborators = ProjectCollaborator.ormar_config.table
link_checks = LinkCheck.ormar_config.table

_EVENT = bindparam("event_id", type_=postgresql.UUID(as_uuid=True))
_LIMIT = bindparam("chunk_limit", type_=Integer)

ExportName = Literal["projects", "votes", "attendees", "referrals"]

# The contact fields of a person, in the order the CSV shows them.
CONTACT_COLUMNS = (
    "display_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip_code",
    "country",
)


def _contact(table: Any, prefix: str) -> list[Any]:
    return [table.c[name].label(f"{prefix}{name}") for name in CONTACT_COLUMNS]


def _team(column: Any) -> Any:
    """The project's collaborators' `column`, in joining order, as an array."""
    member = users.alias("member")
    return (
        select(
            func.coalesce(
                func.array_agg(
                    postgresql.aggregate_order_by(member.c[column], collaborators.c.created_at)
                ),
                literal_column("'{}'"),
            )
        )
        .select_from(collaborators.join(member, member.c.id == collaborators.c.user_id))
        .where(collaborators.c.project_id == projects.c.id)
        .scalar_subquery()
    )


def _projects() -> tuple[Statement, Statement]:
    points = (
        select(votes.c.project_id, func.count().label("points"))
        .where(votes.c.event_id == _EVENT)
        .group_by(votes.c.project_id)
        .subquery("v")
    )
    points_of = func.coalesce(points.c.points, 0)
    ranked = (
        select(
            projects.c.id,
            points_of.label("points"),
            # Competition ranking: equal points share a rank, the next rank skips (1, 2, 2, 4).
            func.rank().over(order_by=points_of.desc()).label("rank"),
        )
        .select_from(projects.outerjoin(points, points.c.project_id == projects.c.id))
        .where(projects.c.event_id == _EVENT)
        .subquery("r")
    )
    owner = users.alias("owner")
    query = select(
        ranked.c.rank,
        ranked.c.points,
        projects.c.seq,
        projects.c.name,
        projects.c.description,
        projects.c.repo,
        projects.c.demo,
        projects.c.image_url,
        projects.c.hours_spent,
        projects.c.created_at,
        owner.c.seq.label("owner_seq"),
        *_contact(owner, "owner_"),
        _team("seq").label("collaborator_seqs"),
        _team("display_name").label("collaborator_names"),
        _team("email").label("collaborator_emails"),
        _team("phone").label("collaborator_phones"),
        link_checks.c.status.label("link_check_status"),
        link_checks.c.reasons.label("link_check_reasons"),
        link_checks.c.checked_at.label("link_checked_at"),
    ).select_from(
        ranked.join(projects, projects.c.id == ranked.c.id)
        .join(owner, owner.c.id == projects.c.owner_id)
        .outerjoin(link_checks, link_checks.c.project_id == projects.c.id)
    )
    order = (ranked.c.rank, projects.c.seq)
    after_rank = bindparam("after_rank", type_=BigInteger)
    after_seq = bindparam("after_seq", type_=BigInteger)
    after: ColumnElement[bool] = or_(
        ranked.c.rank > after_rank, and_(ranked.c.rank == after_rank, projects.c.seq > after_seq)
    )
    return (
        Statement(query.order_by(*order).limit(_LIMIT)),
        Statement(query.where(after).order_by(*order).limit(_LIMIT)),
    )


_voter = users.alias("voter")
_VOTES = by_creation(
    select(
        votes.c.seq,
        votes.c.created_at,
        _voter.c.seq.label("voter_seq"),
        _voter.c.display_name.label("voter_display_name"),
        _voter.c.email.label("voter_email"),
        projects.c.seq.label("project_seq"),
        projects.c.name.label("project_name"),
    )
    .select_from(
        votes.join(_voter, _voter.c.id == votes.c.voter_id).join(
            projects, projects.c.id == votes.c.project_id
        )
    )
    .where(votes.c.event_id == _EVENT),
    votes,
    limit="chunk_limit",
)
_ATTENDEES = by_creation(
    select(
        attendees.c.seq,
        attendees.c.created_at,
        users.c.seq.label("user_seq"),
        *_contact(users, ""),
    )
    .select_from(attendees.join(users, users.c.id == attendees.c.user_id))
    .where(attendees.c.event_id == _EVENT),
    attendees,
    limit="chunk_limit",
)
_REFERRALS = by_creation(
    select(
        referrals.c.seq,
        referrals.c.created_at,
        referrals.c.content,
        users.c.seq.label("user_seq"),
        users.c.display_name,
        users.c.email,
    )
    .select_from(referrals.join(users, users.c.id == referrals.c.user_id))
    .where(referrals.c.event_id == _EVENT),
    referrals,
    limit="chunk_limit",
)

_EXPORTS: dict[ExportName, tuple[Statement, Statement]] = {
    "projects": _projects(),
    "votes": _VOTES,
    "attendees": _ATTENDEES,
    "referrals": _REFERRALS,
}


async def chunk(
    db: Executor,
    which: ExportName,
    event_id: uuid.UUID,
    limit: int,
    after: Record | None,
) -> list[Record]:
    """Up to `limit` rows of the export `which` after the row `after` (None: from the start)."""
    first, following = _EXPORTS[which]
    if after is None:
        return await first.fetch(db, event_id=event_id, chunk_limit=limit)
    if which == "projects":
        key: dict[str, Any] = {"after_rank": after["rank"], "after_seq": after["seq"]}
    else:
        key = {"after_created_at": after["created_at"], "after_seq": after["seq"]}
    return await following.fetch(db, event_id=event_id, chunk_limit=limit, **key)


# What each export has one row per, for the audit trail's row count (read as the export starts).
_COUNTED: dict[ExportName, Any] = {
    "projects": projects,
    "votes": votes,
    "attendees": attendees,
    "referrals": referrals,
}
_COUNTS: dict[ExportName, Statement] = {
    name: Statement(
        select(table.c.event_id, func.count().label("rows"))
        .where(
            table.c.event_id
            == any_(bindparam("event_ids", type_=postgresql.ARRAY(postgresql.UUID(as_uuid=True))))
        )
        .group_by(table.c.event_id)
    )
    for name, table in _COUNTED.items()
}


async def row_counts(
    db: Executor, which: ExportName, event_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The rows the export `which` has for each of the events (absent: none)."""
    found = await _COUNTS[which].fetch(db, event_ids=event_ids)
    return {row["event_id"]: row["rows"] for row in found}
