"""Where a v1 record id lives now, as the canonical API path of what it became."""

from __future__ import annotations

from podium.db import Executor
from podium.ids import Entity
from podium.public_ids import public_id
from podium.queries import legacy


async def canonical_path(db: Executor, airtable_id: str) -> str | None:
    """The canonical API path of whichever entity had this v1 record id, if any."""
    found = await legacy.find(db, airtable_id)
    if found is None:
        return None
    kind, seq, parent_seq = found
    if kind == "user":
        return f"/users/{public_id(Entity.USER, seq)}"
    if kind == "event":
        return f"/events/{public_id(Entity.EVENT, seq)}"
    if kind in ("project",):
        return f"/projects/{public_id(Entity.PROJECT, seq)}"
    assert parent_seq is not None  # a vote's project, a referral's event
    if kind == "vote":
        return f"/projects/{public_id(Entity.PROJECT, parent_seq)}"
    return f"/events/{public_id(Entity.EVENT, parent_seq)}"
