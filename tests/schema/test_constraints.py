"""Every rule of SPEC §1 that the database itself enforces, tested with plain SQL."""

from __future__ import annotations

import uuid

import asyncpg
import pytest


async def insert_user(conn: asyncpg.Connection, email: str) -> uuid.UUID:
    return await conn.fetchval(
        "INSERT INTO users (email, display_name, first_name) VALUES ($1, 'Ada L.', 'Ada') RETURNING id",
        email,
    )


async def insert_event(
    conn: asyncpg.Connection, owner: uuid.UUID, slug: str, join_code: str
) -> uuid.UUID:
    return await conn.fetchval(
        "INSERT INTO events (name, slug, join_code, owner_id) VALUES ('Hack', $1, $2, $3) RETURNING id",
        slug,
        join_code,
        owner,
    )


async def insert_project(
    conn: asyncpg.Connection, owner: uuid.UUID, event: uuid.UUID, join_code: str
) -> uuid.UUID:
    return await conn.fetchval(
        "INSERT INTO projects (name, join_code, owner_id, event_id) VALUES ('P', $1, $2, $3) RETURNING id",
        join_code,
        owner,
        event,
    )


async def insert_attendance(conn: asyncpg.Connection, event: uuid.UUID, user: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)", event, user
    )


async def vote(
    conn: asyncpg.Connection, voter: uuid.UUID, project: uuid.UUID, event: uuid.UUID
) -> None:
    await conn.execute(
        "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
        voter,
        project,
        event,
    )


@pytest.fixture
async def conn(db: asyncpg.Pool) -> asyncpg.Connection:
    async with db.acquire() as connection:
        yield connection


async def test_email_differing_only_in_case_is_the_same_user(conn: asyncpg.Connection) -> None:
    await insert_user(conn, "ada@example.com")
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_user(conn, "Ada@Example.com")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_user(conn, "ada@example.com")


async def test_email_must_be_stored_stripped(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_user(conn, " ada@example.com ")


async def test_first_name_is_required_and_bounded(conn: asyncpg.Connection) -> None:
    for first_name in ("", "   ", "x" * 51):
        with pytest.raises((asyncpg.CheckViolationError, asyncpg.StringDataRightTruncationError)):
            await conn.execute(
                "INSERT INTO users (email, display_name, first_name) VALUES ('a@b.c', 'A', $1)",
                first_name,
            )


async def test_slug_and_join_codes_are_unique(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    event = await insert_event(conn, owner, "hack", "ABCDEF")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_event(conn, owner, "hack", "ZZZZZZ")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_event(conn, owner, "other", "ABCDEF")
    await insert_project(conn, owner, event, "PROJ01")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_project(conn, owner, event, "PROJ01")


async def test_slug_and_join_code_formats(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_event(conn, owner, "Not A Slug", "ABCDEF")
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_event(conn, owner, "slug", "abcdef")


async def test_attendee_and_collaborator_pairs_are_unique(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    member = await insert_user(conn, "m@example.com")
    event = await insert_event(conn, owner, "hack", "ABCDEF")
    project = await insert_project(conn, owner, event, "PROJ01")
    await insert_attendance(conn, event, member)
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_attendance(conn, event, member)
    await conn.execute(
        "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)", project, member
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)",
            project,
            member,
        )


async def test_one_vote_per_voter_and_project(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    voter = await insert_user(conn, "v@example.com")
    event = await insert_event(conn, owner, "hack", "ABCDEF")
    project = await insert_project(conn, owner, event, "PROJ01")
    await insert_attendance(conn, event, voter)
    await vote(conn, voter, project, event)
    with pytest.raises(asyncpg.UniqueViolationError):
        await vote(conn, voter, project, event)


async def test_vote_must_match_the_projects_event_and_an_attendee(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    voter = await insert_user(conn, "v@example.com")
    event = await insert_event(conn, owner, "hack", "ABCDEF")
    other_event = await insert_event(conn, owner, "other", "GHIJKL")
    project = await insert_project(conn, owner, event, "PROJ01")
    await insert_attendance(conn, other_event, voter)
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # voter does not attend `event`
        await vote(conn, voter, project, event)
    with pytest.raises(asyncpg.ForeignKeyViolationError):  # project belongs to another event
        await vote(conn, voter, project, other_event)


async def test_negative_hours_and_blank_names_are_refused(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    event = await insert_event(conn, owner, "hack", "ABCDEF")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO projects (name, join_code, owner_id, event_id, hours_spent) "
            "VALUES ('P', 'PROJ02', $1, $2, -1)",
            owner,
            event,
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO projects (name, join_code, owner_id, event_id) VALUES (' ', 'PROJ03', $1, $2)",
            owner,
            event,
        )


async def test_airtable_id_is_unique_and_well_formed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "INSERT INTO users (email, display_name, first_name, airtable_id) "
        "VALUES ('a@x.io', 'A', 'A', 'recAAAAAAAAAAAAAA')"
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "INSERT INTO users (email, display_name, first_name, airtable_id) "
            "VALUES ('b@x.io', 'B', 'B', 'recAAAAAAAAAAAAAA')"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO users (email, display_name, first_name, airtable_id) "
            "VALUES ('c@x.io', 'C', 'C', 'not-a-record-id')"
        )


async def count(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def test_deleting_an_event_removes_its_dependents_and_nothing_else(
    conn: asyncpg.Connection,
) -> None:
    owner = await insert_user(conn, "o@example.com")
    member = await insert_user(conn, "m@example.com")
    doomed = await insert_event(conn, owner, "doomed", "AAAAAA")
    kept = await insert_event(conn, owner, "kept", "BBBBBB")
    for event, code in ((doomed, "PROJ01"), (kept, "PROJ02")):
        await insert_attendance(conn, event, member)
        project = await insert_project(conn, owner, event, code)
        await conn.execute(
            "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)",
            project,
            member,
        )
        await vote(conn, member, project, event)
        await conn.execute(
            "INSERT INTO referrals (content, user_id, event_id) VALUES ('a friend', $1, $2)",
            member,
            event,
        )

    await conn.execute("DELETE FROM events WHERE id = $1", doomed)

    for table in ("event_attendees", "projects", "project_collaborators", "votes", "referrals"):
        assert await count(conn, table) == 1, table
    assert await count(conn, "users") == 2
    assert await count(conn, "events") == 1


async def test_deleting_a_project_removes_collaborators_and_votes_only(
    conn: asyncpg.Connection,
) -> None:
    owner = await insert_user(conn, "o@example.com")
    member = await insert_user(conn, "m@example.com")
    event = await insert_event(conn, owner, "hack", "AAAAAA")
    await insert_attendance(conn, event, member)
    project = await insert_project(conn, owner, event, "PROJ01")
    await conn.execute(
        "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)", project, member
    )
    await vote(conn, member, project, event)

    await conn.execute("DELETE FROM projects WHERE id = $1", project)

    assert await count(conn, "project_collaborators") == 0
    assert await count(conn, "votes") == 0
    assert await count(conn, "event_attendees") == 1
    assert await count(conn, "events") == 1
    assert await count(conn, "users") == 2


async def test_owner_cannot_be_deleted_while_owning_an_event(conn: asyncpg.Connection) -> None:
    owner = await insert_user(conn, "o@example.com")
    await insert_event(conn, owner, "hack", "AAAAAA")
    # PostgreSQL 18 reports ON DELETE RESTRICT as restrict_violation, 15 as foreign_key_violation.
    with pytest.raises((asyncpg.RestrictViolationError, asyncpg.ForeignKeyViolationError)):
        await conn.execute("DELETE FROM users WHERE id = $1", owner)


async def test_public_id_sequence_and_updated_at_are_maintained(conn: asyncpg.Connection) -> None:
    first = await insert_user(conn, "a@example.com")
    second = await insert_user(conn, "b@example.com")
    seqs = await conn.fetch(
        "SELECT seq FROM users WHERE id = ANY($1::uuid[]) ORDER BY seq", [first, second]
    )
    assert seqs[0]["seq"] < seqs[1]["seq"]
    before = await conn.fetchval("SELECT updated_at FROM users WHERE id = $1", first)
    await conn.execute("UPDATE users SET city = 'Paris' WHERE id = $1", first)
    after = await conn.fetchval("SELECT updated_at FROM users WHERE id = $1", first)
    assert after > before
    await conn.execute("UPDATE users SET city = 'Paris' WHERE id = $1", first)
    assert await conn.fetchval("SELECT updated_at FROM users WHERE id = $1", first) == after


async def test_every_constraint_the_code_names_exists(db: asyncpg.Pool) -> None:
    """podium.models.constraints names constraints the services turn into 409s: each is real."""
    from podium.models.constraints import Constraint

    async with db.acquire() as conn:
        names = {
            row["conname"]
            for row in await conn.fetch(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = 'public'"
            )
        }
    assert {str(name) for name in Constraint} <= names, set(map(str, Constraint)) - names


def test_the_join_code_pattern_is_the_models_check() -> None:
    from podium.models import Event, Project
    from podium.models.constraints import JOIN_CODE_PATTERN

    for model in (Event, Project):
        checks = [
            str(c.sqltext)
            for c in model.ormar_config.table.constraints
            if c.name and "join_code_format" in str(c.name)
        ]
        assert checks == [f"join_code ~ '{JOIN_CODE_PATTERN}'"], checks
