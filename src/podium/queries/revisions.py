"""An event's revision counters (podium.models.revision): what the list ETags are made of."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from podium.db import Executor
from podium.models import EventRevision
from podium.queries.statement import Statement

revisions = EventRevision.ormar_config.table

_OF_EVENT = Statement(
    select(revisions.c.content_revision, revisions.c.votes_revision).where(
        revisions.c.event_id == bindparam("event_id")
    )
)


async def of_event(db: Executor, event_id: uuid.UUID) -> tuple[int, int]:
    """(content, votes) revisions; (0, 0) before the event's first change."""
    row = await _OF_EVENT.fetchrow(db, event_id=event_id)
    return (0, 0) if row is None else (row["content_revision"], row["votes_revision"])
