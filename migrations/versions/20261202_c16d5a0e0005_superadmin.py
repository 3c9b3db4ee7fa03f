"""superadmin

Revision ID: c16d5a0e0005
Revises: c16c4ec45003
Create Date: 2026-12-02 15:40:00.000000

users.is_superadmin: the platform admin (docs/superadmin.md), granted by `podium admin grant`.
A constant default: PostgreSQL adds the column without rewriting the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c16d5a0e0005"
down_revision: str | None = "c16c4ec45003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("is_superadmin", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "is_superadmin")
