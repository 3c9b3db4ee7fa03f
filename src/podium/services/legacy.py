"""Where a v1 record id lives now: one indexed lookup per table, in one round trip."""

from __future__ import annotations

import sqlalchemy

from podium.db import database
from podium.ids import Entity
from podium.public_ids import public_id

# Each row: which table, the row's own seq, and for rows without a page of their own the
# seq of the parent whose page stands in for it (a vote → its project, a referral → its event).
_LOOKUP = sqlalchemy.text(
    """
    SELECT 'user' AS kind, seq, NULL::bigint AS parent_seq FROM users WHERE airtable_id = :id
    UNION ALL
    SELECT 'event', seq, NULL FROM events WHERE airtable_id = :id
    UNION ALL
    SELECT 'project', seq, NULL FROM projects WHERE airtable_id = :id
    UNION ALL
    SELECT 'vote', v.seq, p.seq FROM votes v JOIN projects p ON p.id = v.project_id
    WHERE v.airtable_id = :id
    UNION ALL
    SELECT 'referral', r.seq, e.seq FROM referrals r JOIN events e ON e.id = r.event_id
    WHERE r.airtable_id = :id
    LIMIT 1
    """
)


async def canonical_path(airtable_id: str) -> str | None:
    """The canonical API path of whichever entity had this v1 record id, if any."""
    async with database.connection() as conn:
        row = (await conn.execute(_LOOKUP, {"id": airtable_id})).first()
    if row is None:
        return None
    kind, seq, parent_seq = row
    if kind == "user":
        return f"/users/{public_id(Entity.USER, seq)}"
    if kind == "event":
        return f"/events/{public_id(Entity.EVENT, seq)}"
    if kind in ("project",):
        return f"/projects/{public_id(Entity.PROJECT, seq)}"
    if kind == "vote":
        return f"/projects/{public_id(Entity.PROJECT, parent_seq)}"
    return f"/events/{public_id(Entity.EVENT, parent_seq)}"
