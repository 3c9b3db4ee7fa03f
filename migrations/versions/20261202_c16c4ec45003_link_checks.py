"""link checks

Revision ID: c16c4ec45003
Revises: c15b1a17e002
Create Date: 2026-12-02 14:30:00.000000

One row per project: the job of the link-check queue and its last result (podium.models.link_check,
docs/link-checks.md). No row is made for the projects that exist already: checking them all at
once would spend GitHub's rate limit in a minute; they are checked when their links change or an
owner asks. A finished check changes what the owner's leaderboard shows, so its result moves the
event's ETag through the same deferred trigger as the other tables (migration 3b1f0c6d2a94).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c16c4ec45003"
down_revision: str | None = "c15b1a17e002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGED = """
CREATE FUNCTION podium_link_checks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM podium_bump_event_revision(p.event_id, false)
    FROM projects p WHERE p.id = NEW.project_id;
    RETURN NULL;
END
$$
"""
# Only what the views show: a worker taking or releasing a job changes nothing visible.
UPDATE_TRIGGER_WHEN = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.reasons IS DISTINCT FROM NEW.reasons "
    "OR OLD.checked_at IS DISTINCT FROM NEW.checked_at"
)


def upgrade() -> None:
    op.create_table(
        "link_checks",
        sa.Column("project_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            server_default="pending",
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "reasons",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("checked_at", sa.DateTime(timezone=True), autoincrement=False, nullable=True),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), autoincrement=False, nullable=True
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), autoincrement=False, nullable=True),
        sa.Column("lease", sa.UUID(), autoincrement=False, nullable=True),
        sa.Column(
            "attempts", sa.Integer(), server_default="0", autoincrement=False, nullable=False
        ),
        sa.Column(
            "generation", sa.BigInteger(), server_default="1", autoincrement=False, nullable=False
        ),
        sa.Column("last_error", sa.Text(), autoincrement=False, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'valid', 'warning', 'invalid')",
            name=op.f("ck_link_checks_status_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_link_checks_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_link_checks_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_link_checks")),
    )
    op.create_index(
        "ix_link_checks_next_attempt_at", "link_checks", ["next_attempt_at"], unique=False
    )
    op.execute(CHANGED)
    op.execute(
        "CREATE CONSTRAINT TRIGGER link_checks_bump_event_revision "
        "AFTER INSERT ON link_checks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION podium_link_checks_changed()"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER link_checks_result_bump_event_revision "
        "AFTER UPDATE ON link_checks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"WHEN ({UPDATE_TRIGGER_WHEN}) EXECUTE FUNCTION podium_link_checks_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER link_checks_result_bump_event_revision ON link_checks")
    op.execute("DROP TRIGGER link_checks_bump_event_revision ON link_checks")
    op.execute("DROP FUNCTION podium_link_checks_changed()")
    op.drop_index("ix_link_checks_next_attempt_at", table_name="link_checks")
    op.drop_table("link_checks")
