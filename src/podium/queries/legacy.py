"""Where a v1 record id lives now: one indexed lookup per table, in one round trip."""

from __future__ import annotations

from typing import Literal

import sqlalchemy
from sqlalchemy import bindparam, literal, select, union_all

from podium.db import Executor
from podium.models import Event, Project, Referral, User, Vote
from podium.queries.statement import Statement

_TABLES = {
    "user": User.ormar_config.table,
    "event": Event.ormar_config.table,
    "project": Project.ormar_config.table,
}
Kind = Literal["user", "event", "project", "vote", "referral"]

_RECORD = bindparam("airtable_id", type_=sqlalchemy.String)
_votes = Vote.ormar_config.table
_referrals = Referral.ormar_config.table
_projects, _events = _TABLES["project"], _TABLES["event"]
_NO_PARENT = sqlalchemy.null().cast(sqlalchemy.BigInteger)

# Each row: which table, the row's own seq, and for rows without a page of their own the
# seq of the parent whose page stands in for it (a vote → its project, a referral → its event).
_ANYWHERE = Statement(
    union_all(
        *(
            select(literal(kind).label("kind"), table.c.seq, _NO_PARENT.label("parent_seq")).where(
                table.c.airtable_id == _RECORD
            )
            for kind, table in _TABLES.items()
        ),
        select(literal("vote"), _votes.c.seq, _projects.c.seq)
        .select_from(_votes.join(_projects, _projects.c.id == _votes.c.project_id))
        .where(_votes.c.airtable_id == _RECORD),
        select(literal("referral"), _referrals.c.seq, _events.c.seq)
        .select_from(_referrals.join(_events, _events.c.id == _referrals.c.event_id))
        .where(_referrals.c.airtable_id == _RECORD),
    ).limit(1)
)
_OF_KIND = {
    kind: Statement(select(table.c.seq).where(table.c.airtable_id == _RECORD))
    for kind, table in _TABLES.items()
}


async def find(db: Executor, airtable_id: str) -> tuple[Kind, int, int | None] | None:
    """(kind, seq, parent seq) of whichever row had this v1 record id."""
    row = await _ANYWHERE.fetchrow(db, airtable_id=airtable_id)
    return None if row is None else (row["kind"], row["seq"], row["parent_seq"])


async def seq_of(
    db: Executor, kind: Literal["user", "event", "project"], airtable_id: str
) -> int | None:
    """The seq of the user, event or project that had this v1 record id."""
    row = await _OF_KIND[kind].fetchrow(db, airtable_id=airtable_id)
    return None if row is None else int(row["seq"])
