from __future__ import annotations

import uuid
from datetime import datetime

import ormar

from podium.db import base_ormar_config
from podium.models.base import (
    airtable_id_check,
    airtable_id_field,
    pk_field,
    seq_field,
    timestamp_field,
)
from podium.models.project import Project
from podium.models.user import User


class ProjectCollaborator(ormar.Model):
    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="project_collaborators",
        constraints=[
            airtable_id_check(),
            ormar.UniqueColumns(
                "project_id",
                "user_id",
                name="uq_project_collaborators_project_id_user_id",
            ),
            ormar.IndexColumns("user_id", name="ix_project_collaborators_user_id"),
        ],
    )

    id: uuid.UUID = pk_field()
    seq: int = seq_field("project_collaborators")
    airtable_id: str | None = airtable_id_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    project: Project = ormar.ForeignKey(
        Project,
        name="project_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="collaborations",
    )
    user: User = ormar.ForeignKey(
        User,
        name="user_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="collaborations",
    )
