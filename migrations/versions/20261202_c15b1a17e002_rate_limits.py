"""rate limits

Revision ID: c15b1a17e002
Revises: c15a5e551001
Create Date: 2026-12-02 14:30:00.000000

The state of every rate limit, shared by all workers and instances (podium.services.rate_limits).
UNLOGGED: a vote's limit check writes no WAL and waits for no flush, and the table is emptied by
a crash recovery and absent from standbys, which only resets the limits (docs/security-limits.md).
Alembic does not compare a table's persistence, so the model cannot say it; this does.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c15b1a17e002"
down_revision: str | None = "c15a5e551001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), autoincrement=False, nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
        prefixes=["UNLOGGED"],
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
