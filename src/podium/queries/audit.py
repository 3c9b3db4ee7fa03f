"""The audit trail's statements: one insert, and keyset pages of an event's trail or of all.

Pages are oldest first on `(created_at, seq)` (podium.queries.keyset), like every other list:
the trail reads as a log, and a page never shifts while new entries are written. The superadmin
list takes up to three optional filters; each combination is its own statement (built once, on
first use), so the planner sees plain equalities and uses the indexes of podium.models.audit.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, insert, select

from podium.db import Executor, Record, Transaction
from podium.models import AuditEvent
from podium.queries.keyset import by_creation
from podium.queries.statement import Statement

audit = AuditEvent.ormar_config.table

_WRITTEN = (
    "actor_id",
    "actor_seq",
    "actor_email",
    "actor_role",
    "event_id",
    "event_seq",
    "event_name",
    "action",
    "target_kind",
    "target_seq",
    "changes",
)
_INSERT = Statement(
    insert(audit).values({name: bindparam(name, type_=audit.c[name].type) for name in _WRITTEN})
)
_SHOWN = select(
    audit.c.seq,
    audit.c.created_at,
    audit.c.actor_seq,
    audit.c.actor_email,
    audit.c.actor_role,
    audit.c.event_seq,
    audit.c.event_name,
    audit.c.action,
    audit.c.target_kind,
    audit.c.target_seq,
    audit.c.changes,
)
# The filters of GET /superadmin/audit, by query parameter: (column, bound parameter).
_FILTERS = {
    "event_seq": bindparam("event_seq", type_=BigInteger),
    "actor_seq": bindparam("actor_seq", type_=BigInteger),
    "action": bindparam("action", type_=String),
}


async def add(tx: Transaction, values: Mapping[str, Any]) -> None:
    """Write one audit event (every column of `_WRITTEN`), in the change's own transaction."""
    await _INSERT.execute(tx, **values)


@functools.cache
def _pages(filters: frozenset[str]) -> tuple[Statement, Statement]:
    query = _SHOWN
    for name in sorted(filters):
        query = query.where(audit.c[name] == _FILTERS[name])
    return by_creation(query, audit)


async def page(
    db: Executor,
    filters: Mapping[str, object],
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[Record]:
    """Up to `limit` entries matching every filter given (`event_seq`, `actor_seq`, `action`;
    None: any), oldest first, after the key `after`."""
    given = {name: value for name, value in filters.items() if value is not None}
    first, following = _pages(frozenset(given))
    if after is None:
        return await first.fetch(db, page_limit=limit, **given)
    created_at, seq = after
    return await following.fetch(
        db, page_limit=limit, after_created_at=created_at, after_seq=seq, **given
    )
