"""The Airtable backfill's own bookkeeping: its quarantine, its runs and their checkpoints.

Written only by `podium.backfill` (with asyncpg, in batches); the models exist so the tables live
in the migrations like every other table and can be read from the app or a shell.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import ormar

from podium.db import JSONB, base_ormar_config
from podium.models.base import AIRTABLE_ID_PATTERN, pk_field, timestamp_field


class BackfillQuarantine(ormar.Model):
    """One problem one v1 record has: the record, the rule it broke, and what to do about it.

    `disposition` says what became of the record: `rejected` (not migrated), `merged` (folded into
    `related_record_id`), `repaired` (migrated with a change), `noted` (migrated as is).
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="backfill_quarantine",
        constraints=[
            ormar.UniqueColumns(
                "source_table",
                "record_id",
                "rule",
                name="uq_backfill_quarantine_source_table_record_id_rule",
            ),
            ormar.CheckColumns(f"record_id ~ '{AIRTABLE_ID_PATTERN}'", name="record_id_format"),
            ormar.CheckColumns(
                "disposition in ('rejected', 'merged', 'repaired', 'noted')",
                name="disposition_known",
            ),
            ormar.IndexColumns("rule", name="ix_backfill_quarantine_rule"),
        ],
    )

    id: uuid.UUID = pk_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    source_table: str = ormar.String(max_length=32)
    record_id: str = ormar.String(max_length=17)
    rule: str = ormar.String(max_length=64)
    disposition: str = ormar.String(max_length=16)
    message: str = ormar.Text()
    action: str = ormar.Text()
    related_record_id: str | None = ormar.String(max_length=17, nullable=True)
    details: Any = JSONB(default=dict, nullable=False, server_default="{}")
    record: Any = JSONB(nullable=False)


class BackfillRun(ormar.Model):
    """One invocation of `run` or `delta`; an unfinished `run` is resumed by the next one."""

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="backfill_runs",
        constraints=[
            ormar.CheckColumns("kind in ('run', 'delta')", name="kind_known"),
            ormar.CheckColumns("status in ('running', 'finished', 'failed')", name="status_known"),
            ormar.IndexColumns("kind", "started_at", name="ix_backfill_runs_kind_started_at"),
        ],
    )

    id: uuid.UUID = pk_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    kind: str = ormar.String(max_length=16)
    status: str = ormar.String(max_length=16)
    base_id: str = ormar.String(max_length=64)
    started_at: datetime = timestamp_field()
    finished_at: datetime | None = ormar.DateTime(timezone=True, nullable=True)
    since: datetime | None = ormar.DateTime(timezone=True, nullable=True)
    counts: Any = JSONB(default=dict, nullable=False, server_default="{}")


class BackfillCheckpoint(ormar.Model):
    """A stage (one Airtable table and the rows it feeds) that a run finished and committed."""

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="backfill_checkpoints",
        constraints=[
            ormar.UniqueColumns("run_id", "stage", name="uq_backfill_checkpoints_run_id_stage"),
        ],
    )

    id: uuid.UUID = pk_field()
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    run: BackfillRun = ormar.ForeignKey(
        BackfillRun,
        name="run_id",
        nullable=False,
        ondelete="CASCADE",
        related_name="checkpoints",
    )
    stage: str = ormar.String(max_length=32)
    counts: Any = JSONB(default=dict, nullable=False, server_default="{}")
    # What later stages need from this one that the database does not hold (e.g. v1 points).
    carry: Any = JSONB(default=dict, nullable=False, server_default="{}")
