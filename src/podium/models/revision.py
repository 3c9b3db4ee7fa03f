from __future__ import annotations

import uuid

import ormar
import sqlalchemy

from podium.db import NativeUUID, base_ormar_config


class EventRevision(ormar.Model):
    """How often what an event's pages show has changed: the ETags of its lists, read in O(1).

    Kept by deferred triggers (migration 3b1f0c6d2a94) on events, projects, collaborators,
    votes and the display names of users, so every write path counts, the backfill's included.
    Votes count apart: while the leaderboard is hidden, a vote must not change the public ETag
    (it would tell when votes arrive). Its own table: bumping a counter on `events` would queue
    behind the `FOR SHARE` lock every vote in flight holds on its event.
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="event_revisions"
    )

    event_id: uuid.UUID = NativeUUID(primary_key=True)
    content_revision: int = ormar.BigInteger(default=0, server_default="0", nullable=False)
    votes_revision: int = ormar.BigInteger(default=0, server_default="0", nullable=False)


EventRevision.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["event_id"], ["events.id"], name="fk_event_revisions_event_id_events", ondelete="CASCADE"
    )
)
