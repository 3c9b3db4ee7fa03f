from __future__ import annotations

import uuid
from datetime import datetime

import ormar
import sqlalchemy

from podium.db import base_ormar_config
from podium.models.base import (
    airtable_id_check,
    airtable_id_field,
    pk_field,
    seq_field,
    timestamp_field,
)
from podium.models.event import Event
from podium.models.project import Project
from podium.models.user import User


class Vote(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="votes",
        constraints=[
            airtable_id_check(),
            ormar.UniqueColumns("voter_id", "project_id", name="uq_votes_voter_id_project_id"),
            ormar.IndexColumns("event_id", "voter_id", name="ix_votes_event_id_voter_id"),
            ormar.IndexColumns("project_id", name="ix_votes_project_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("votes")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    voter: User = ormar.ForeignKey(
        User, name="voter_id", nullable=False, ondelete="CASCADE", related_name="votes"
    )
    project: Project = ormar.ForeignKey(
        Project,
        name="project_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="votes",
    )
    event: Event = ormar.ForeignKey(
        Event, name="event_id", nullable=False, ondelete="CASCADE", related_name="votes"
    )


# Composite keys ormar cannot declare. The database itself then guarantees that a vote's event is
# its project's event and that the voter attends it (removing an attendee removes their votes).
Vote.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["project_id", "event_id"],
        ["projects.id", "projects.event_id"],
        name="fk_votes_project_id_event_id_projects",
        ondelete="CASCADE",
    )
)
Vote.ormar_config.table.append_constraint(
    sqlalchemy.ForeignKeyConstraint(
        ["event_id", "voter_id"],
        ["event_attendees.event_id", "event_attendees.user_id"],
        name="fk_votes_event_id_voter_id_event_attendees",
        ondelete="CASCADE",
    )
)
