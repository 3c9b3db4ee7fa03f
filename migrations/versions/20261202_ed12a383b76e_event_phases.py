"""event phases

Revision ID: ed12a383b76e
Revises: 3b1f0c6d2a94
Create Date: 2026-12-02 05:49:57.677442

`votable` and `leaderboard_enabled` give way to `phase` and `live_leaderboard` (one source of
truth; the API derives the booleans, see podium.models.phase and docs/phases.md), plus the
owner's `submissions_open_during_voting` switch. Existing rows keep what they showed: the data
step maps each pair of booleans as the backfill does (`from_v1`), and the downgrade derives them
back. The events UPDATE moves every event's ETag (event_revisions' trigger), as it should.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ed12a383b76e"
down_revision: str | None = "3b1f0c6d2a94"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# podium.models.phase.from_v1, in SQL (a migration must not change with the code).
TO_PHASE = """
UPDATE events SET
    phase = CASE
        WHEN votable THEN 'voting'
        WHEN leaderboard_enabled THEN 'closed'
        ELSE 'submission'
    END,
    live_leaderboard = votable AND leaderboard_enabled
WHERE votable OR leaderboard_enabled
"""
TO_BOOLEANS = """
UPDATE events SET
    votable = phase = 'voting',
    leaderboard_enabled = live_leaderboard OR phase = 'closed'
WHERE phase IN ('voting', 'closed') OR live_leaderboard
"""


def upgrade() -> None:
    op.add_column(
        "events",
        sa.Column(
            "phase",
            sa.String(length=16),
            server_default="submission",
            autoincrement=False,
            nullable=False,
        ),
    )
    op.add_column(
        "events",
        sa.Column(
            "live_leaderboard",
            sa.Boolean(),
            server_default="false",
            autoincrement=False,
            nullable=False,
        ),
    )
    op.add_column(
        "events",
        sa.Column(
            "submissions_open_during_voting",
            sa.Boolean(),
            server_default="true",
            autoincrement=False,
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_events_phase_known"),
        "events",
        "phase IN ('draft', 'submission', 'voting', 'closed')",
    )
    # The revision triggers are deferred; fire them now, or the ALTER TABLEs below refuse to run.
    op.execute("SET CONSTRAINTS ALL IMMEDIATE")
    op.execute(TO_PHASE)
    op.drop_column("events", "leaderboard_enabled")
    op.drop_column("events", "votable")


def downgrade() -> None:
    op.add_column(
        "events",
        sa.Column(
            "votable",
            sa.BOOLEAN(),
            server_default=sa.text("false"),
            autoincrement=False,
            nullable=False,
        ),
    )
    op.add_column(
        "events",
        sa.Column(
            "leaderboard_enabled",
            sa.BOOLEAN(),
            server_default=sa.text("false"),
            autoincrement=False,
            nullable=False,
        ),
    )
    op.execute("SET CONSTRAINTS ALL IMMEDIATE")
    op.execute(TO_BOOLEANS)
    op.drop_constraint(op.f("ck_events_phase_known"), "events", type_="check")
    op.drop_column("events", "submissions_open_during_voting")
    op.drop_column("events", "live_leaderboard")
    op.drop_column("events", "phase")
