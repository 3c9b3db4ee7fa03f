from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import ormar
import sqlalchemy

from podium.db import JSONB, NativeUUID, base_ormar_config
from podium.models.base import timestamp_field

LINK_CHECK_STATUSES = ("pending", "valid", "warning", "invalid")


class LinkCheck(ormar.Model):
    """A project's link check: the job of the queue and its last result, one row per project.

    The row is the job while `next_attempt_at` is set (due from then on), and taken by a worker
    while `locked_until` lies ahead (a lease: a worker that dies lets it go when it expires).
    `generation` counts the requests: a result is stored only if no request came in while it was
    being checked, else the job stays due for the new links (docs/link-checks.md).
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="link_checks",
        constraints=[
            ormar.CheckColumns(
                "status IN ('pending', 'valid', 'warning', 'invalid')", name="status_known"
            ),
            ormar.CheckColumns("attempts >= 0", name="attempts_not_negative"),
            # The workers' scan for due jobs.
            ormar.IndexColumns("next_attempt_at", name="ix_link_checks_next_attempt_at"),
        ],
    )

    project_id: uuid.UUID = NativeUUID(primary_key=True)
    status: str = ormar.String(
        max_length=16, default="pending", server_default="pending", nullable=False
    )
    reasons: Any = JSONB(nullable=False, server_default=sqlalchemy.text("'[]'::jsonb"))
    # When the last check finished (kept while a new one is pending).
    checked_at: datetime | None = ormar.DateTime(timezone=True, nullable=True)
    # When a check was last asked for (a change of links or a re-check): the re-check's rate limit.
    requested_at: datetime = timestamp_field()
    next_attempt_at: datetime | None = ormar.DateTime(timezone=True, nullable=True)
    locked_until: datetime | None = ormar.DateTime(timezone=True, nullable=True)
    lease: uuid.UUID | None = NativeUUID(nullable=True)
    attempts: int = ormar.Integer(default=0, server_default="0", nullable=False)
    generation: int = ormar.BigInteger(default=1, server_default="1", nullable=False)
    last_error: str | None = ormar.Text(nullable=True)


LinkCheck.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["project_id"],
        ["projects.id"],
        name="fk_link_checks_project_id_projects",
        ondelete="CASCADE",
    )
)
