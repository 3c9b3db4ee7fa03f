"""trash

Revision ID: c16e7a5e0006
Revises: c16d5a0e0005
Create Date: 2026-12-02 17:48:55.555202

The trash (podium.models.trash, docs/trash.md): deleted events and projects moved out of the
live tables whole, and the slugs and join codes they keep reserved until purged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c16e7a5e0006"
down_revision: str | None = "c16d5a0e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE trash_seq_seq AS bigint")
    op.create_table(
        "trash",
        sa.Column(
            "id",
            sa.UUID(),
            server_default=sa.text("gen_random_uuid()"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "seq",
            sa.BigInteger(),
            server_default=sa.text("nextval('trash_seq_seq')"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("item_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("event_seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("deleted_by", sa.UUID(), autoincrement=False, nullable=True),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("purge_after", sa.DateTime(timezone=True), autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.UUID(), autoincrement=False, nullable=True),
        sa.Column(
            "rows",
            postgresql.JSONB(none_as_null=True, astext_type=sa.Text()),
            autoincrement=False,
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('event', 'project')", name=op.f("ck_trash_kind_known")),
        sa.ForeignKeyConstraint(
            ["deleted_by"], ["users.id"], name="fk_trash_deleted_by_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_trash_owner_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["trash.id"], name="fk_trash_parent_id_trash", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trash")),
        sa.UniqueConstraint("item_id", name=op.f("uq_trash_item_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_trash_seq")),
    )
    op.create_index("ix_trash_deleted_at_seq", "trash", ["deleted_at", "seq"], unique=False)
    op.create_index("ix_trash_event_id", "trash", ["event_id"], unique=False)
    op.create_index(
        "ix_trash_owner_id_deleted_at", "trash", ["owner_id", "deleted_at"], unique=False
    )
    op.create_index("ix_trash_parent_id", "trash", ["parent_id"], unique=False)
    op.create_index("ix_trash_purge_after", "trash", ["purge_after"], unique=False)
    op.create_table(
        "trash_reservations",
        sa.Column(
            "id",
            sa.UUID(),
            server_default=sa.text("gen_random_uuid()"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), autoincrement=False, nullable=False),
        sa.Column("value", sa.String(length=50), autoincrement=False, nullable=False),
        sa.Column("trash_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.CheckConstraint(
            "kind IN ('event_slug', 'event_join_code', 'project_join_code')",
            name=op.f("ck_trash_reservations_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["trash_id"],
            ["trash.id"],
            name="fk_trash_reservations_trash_id_trash",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trash_reservations")),
        sa.UniqueConstraint("kind", "value", name="uq_trash_reservations_kind_value"),
    )
    op.create_index(
        "ix_trash_reservations_trash_id", "trash_reservations", ["trash_id"], unique=False
    )
    op.execute("ALTER SEQUENCE trash_seq_seq OWNED BY trash.seq")


def downgrade() -> None:
    op.drop_index("ix_trash_reservations_trash_id", table_name="trash_reservations")
    op.drop_table("trash_reservations")
    op.drop_index("ix_trash_purge_after", table_name="trash")
    op.drop_index("ix_trash_parent_id", table_name="trash")
    op.drop_index("ix_trash_owner_id_deleted_at", table_name="trash")
    op.drop_index("ix_trash_event_id", table_name="trash")
    op.drop_index("ix_trash_deleted_at_seq", table_name="trash")
    op.drop_table("trash")
