"""audit events

Revision ID: c16e4a0d1006
Revises: c16e7a5e0006
Create Date: 2026-12-02 18:05:00.000000

The audit trail (podium.models.audit, docs/audit.md): one row per organiser or superadmin action.
No foreign key on the event (the trail outlives a deleted event); the actor's is ON DELETE SET
NULL, with the actor's email copied beside it. A new action is a new `AuditAction` member and a
revision that replaces `ck_audit_events_action_known`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c16e4a0d1006"
down_revision: str | None = "c16e7a5e0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "event_created_for",
    "event_updated",
    "phase_changed",
    "event_deleted",
    "attendee_removed",
    "project_deleted",
    "owner_transferred",
    "feature_flags_changed",
    "exported",
    "event_restored",
    "project_restored",
    "trash_purged",
    "superadmin_granted",
    "superadmin_revoked",
)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE audit_events_seq_seq AS bigint")
    op.create_table(
        "audit_events",
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
            server_default=sa.text("nextval('audit_events_seq_seq')"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("actor_id", sa.UUID(), autoincrement=False, nullable=True),
        sa.Column("actor_seq", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("actor_email", sa.String(length=254), autoincrement=False, nullable=True),
        sa.Column("actor_role", sa.String(length=16), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.UUID(), autoincrement=False, nullable=True),
        sa.Column("event_seq", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column("event_name", sa.String(length=200), autoincrement=False, nullable=True),
        sa.Column("action", sa.String(length=32), autoincrement=False, nullable=False),
        sa.Column("target_kind", sa.String(length=16), autoincrement=False, nullable=True),
        sa.Column("target_seq", sa.BigInteger(), autoincrement=False, nullable=True),
        sa.Column(
            "changes",
            postgresql.JSONB(none_as_null=True, astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            autoincrement=False,
            nullable=False,
        ),
        sa.CheckConstraint(
            f"action IN ({', '.join(repr(action) for action in ACTIONS)})",
            name=op.f("ck_audit_events_action_known"),
        ),
        sa.CheckConstraint(
            "actor_role IN ('owner', 'superadmin', 'cli')",
            name=op.f("ck_audit_events_actor_role_known"),
        ),
        sa.CheckConstraint(
            "target_kind IN ('user', 'project')", name=op.f("ck_audit_events_target_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name="fk_audit_events_actor_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    op.execute("ALTER SEQUENCE audit_events_seq_seq OWNED BY audit_events.seq")
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id"], unique=False)
    op.create_index(
        "ix_audit_events_created_at_seq", "audit_events", ["created_at", "seq"], unique=False
    )
    op.create_index(
        "ix_audit_events_event_seq_created_at",
        "audit_events",
        ["event_seq", "created_at", "seq"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("audit_events")  # its indexes and the sequence it owns go with it
