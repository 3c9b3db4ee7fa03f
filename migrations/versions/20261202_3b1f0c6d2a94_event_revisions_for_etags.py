"""event revisions for ETags

Revision ID: 3b1f0c6d2a94
Revises: 87364ff083ae
Create Date: 2026-12-02 00:55:30.666696

A counter pair per event that every change to what its pages show increments, so an ETag of a
1,000-project list is one indexed read (see podium.models.revision). The triggers are
DEFERRABLE INITIALLY DEFERRED constraint triggers: the counter row is locked only at commit,
after every other lock the transaction takes, so two transactions can never wait for each other
through it (a vote holds its attendance row, then commits) and the lock is held for the commit
alone. Votes bump `votes_revision`; everything else `content_revision`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b1f0c6d2a94"
down_revision: str | None = "87364ff083ae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = """
CREATE FUNCTION podium_bump_event_revision(target uuid, is_vote boolean) RETURNS void
LANGUAGE sql AS $$
    -- The event may be gone by commit time (deleted with everything under it): nothing to count.
    INSERT INTO event_revisions AS r (event_id, content_revision, votes_revision)
    SELECT target, CASE WHEN is_vote THEN 0 ELSE 1 END, CASE WHEN is_vote THEN 1 ELSE 0 END
    WHERE EXISTS (SELECT 1 FROM events WHERE id = target)
    ON CONFLICT (event_id) DO UPDATE
    SET content_revision = r.content_revision + excluded.content_revision,
        votes_revision = r.votes_revision + excluded.votes_revision
$$
"""

# One trigger function per table: each knows where its row's event is.
FUNCTIONS = {
    "events": """
        PERFORM podium_bump_event_revision(NEW.id, false);
    """,
    "projects": """
        IF TG_OP <> 'INSERT' THEN PERFORM podium_bump_event_revision(OLD.event_id, false); END IF;
        IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.event_id <> OLD.event_id) THEN
            PERFORM podium_bump_event_revision(NEW.event_id, false);
        END IF;
    """,
    "project_collaborators": """
        PERFORM podium_bump_event_revision(p.event_id, false)
        FROM projects p
        WHERE p.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.project_id ELSE NEW.project_id END;
    """,
    "votes": """
        PERFORM podium_bump_event_revision(
            CASE WHEN TG_OP = 'DELETE' THEN OLD.event_id ELSE NEW.event_id END, true
        );
    """,
    # A display name (or email, on the owner's views) shows on every list with their projects.
    "users": """
        PERFORM podium_bump_event_revision(shown.event_id, false)
        FROM (
            SELECT event_id FROM projects WHERE owner_id = NEW.id
            UNION
            SELECT p.event_id FROM project_collaborators c JOIN projects p ON p.id = c.project_id
            WHERE c.user_id = NEW.id
            ORDER BY 1
        ) shown;
    """,
}

TRIGGERS = {
    "events": "AFTER UPDATE ON events",
    "projects": "AFTER INSERT OR UPDATE OR DELETE ON projects",
    "project_collaborators": "AFTER INSERT OR UPDATE OR DELETE ON project_collaborators",
    "votes": "AFTER INSERT OR UPDATE OR DELETE ON votes",
    "users": "AFTER UPDATE OF display_name, email ON users",
}
WHEN = {
    "users": "WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name "
    "OR OLD.email IS DISTINCT FROM NEW.email)",
}


def upgrade() -> None:
    op.create_table(
        "event_revisions",
        sa.Column("event_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column(
            "content_revision",
            sa.BigInteger(),
            server_default="0",
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "votes_revision",
            sa.BigInteger(),
            server_default="0",
            autoincrement=False,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name="fk_event_revisions_event_id_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_revisions")),
    )
    op.execute(BUMP)
    for table, body in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION podium_{table}_changed() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body}\n    RETURN NULL;\nEND\n$$"
        )
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_bump_event_revision {TRIGGERS[table]} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"{WHEN.get(table, '')} EXECUTE FUNCTION podium_{table}_changed()"
        )


def downgrade() -> None:
    for table in FUNCTIONS:
        op.execute(f"DROP TRIGGER {table}_bump_event_revision ON {table}")
        op.execute(f"DROP FUNCTION podium_{table}_changed()")
    op.execute("DROP FUNCTION podium_bump_event_revision(uuid, boolean)")
    op.drop_table("event_revisions")
