"""sessions: single-use login links, revoked tokens, token generations

Revision ID: c15a5e551001
Revises: ed12a383b76e
Create Date: 2026-12-02 14:30:00

`login_links` gives each magic link an identity (its token's `jti`) that one conditional UPDATE
marks used; `revoked_tokens` holds access tokens ended by POST /logout until they expire;
`users.token_generation` is what "log out everywhere" bumps. See docs/security-sessions.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c15a5e551001"
down_revision: str | None = "ed12a383b76e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_links",
        sa.Column(
            "id",
            sa.UUID(),
            server_default=sa.text("gen_random_uuid()"),
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
        sa.Column("email", sa.String(length=254), autoincrement=False, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), autoincrement=False, nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), autoincrement=False, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_links")),
    )
    op.create_index(
        "ix_login_links_email_created_at", "login_links", ["email", "created_at"], unique=False
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("token_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_revoked_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_revoked_tokens")),
    )
    op.create_index("ix_revoked_tokens_user_id", "revoked_tokens", ["user_id"], unique=False)
    op.add_column(
        "users",
        sa.Column(
            "token_generation",
            sa.Integer(),
            server_default="0",
            autoincrement=False,
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("users", "token_generation")
    op.drop_index("ix_revoked_tokens_user_id", table_name="revoked_tokens")
    op.drop_table("revoked_tokens")
    op.drop_index("ix_login_links_email_created_at", table_name="login_links")
    op.drop_table("login_links")
