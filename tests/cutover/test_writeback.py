"""The rollback write-back against the fake Airtable, on a base the backfill migrated."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tests.cutover.conftest import PROJECT_ROOT, backfill, run_script, write_back
from tests.cutover.v1_check import v1_differences

from podium.cutover import writeback
from podium.cutover.writeback import WriteBackRefused
from podium.db import Database
from podium.models import Event, User
from podium.queries import rows
from podium.services import trash
from podium_devtools.airtable_base import GeneratedBase, generate_base
from podium_devtools.airtable_store import FakeClock
from podium_devtools.fake_airtable import FakeAirtable

ROLLBACK_SCRIPT = PROJECT_ROOT / "scripts" / "rollback_to_airtable.py"


@pytest.fixture(scope="module")
def clean_base() -> GeneratedBase:
    return generate_base(400, seed=5, mess=False)


@pytest.fixture
def fake(clean_base: GeneratedBase) -> Iterator[FakeAirtable]:
    # A wall clock: records the write-back creates are dated after the cutover, as in Airtable.
    with FakeAirtable(clean_base.tables, rate_limit=None, clock=FakeClock(wall=True)) as server:
        yield server


@dataclass
class Cutover:
    fake: FakeAirtable
    url: str
    since: datetime
    conn: asyncpg.Connection

    def records(self, table: str) -> dict[str, dict[str, Any]]:
        return {record["id"]: record["fields"] for record in self.fake.tables[table]}

    async def record_id(self, table: str, row_id: Any) -> str:
        record_id: str = await self.conn.fetchval(
            f"SELECT airtable_id FROM {table} WHERE id = $1", row_id
        )
        return record_id


@pytest.fixture
async def cutover(fake: FakeAirtable, fresh_database: str) -> AsyncIterator[Cutover]:
    """The base migrated, the cutover time taken: what v2 does from here is to be written back."""
    await backfill(fake, fresh_database)
    since = datetime.now(UTC)
    conn = await asyncpg.connect(fresh_database)
    try:
        yield Cutover(fake, fresh_database, since, conn)
    finally:
        await conn.close()


async def _some(conn: asyncpg.Connection, sql: str) -> asyncpg.Record:
    row = await conn.fetchrow(sql)
    assert row is not None, sql
    return row


async def _new_user(conn: asyncpg.Connection, name: str) -> Any:
    return await conn.fetchval(
        "INSERT INTO users (email, first_name, last_name, display_name) "
        "VALUES ($1, $2, 'Doe', $3) RETURNING id",
        f"{name.lower()}-{secrets.token_hex(3)}@example.org",
        name,
        f"{name} D.",
    )


async def _v2_changes(conn: asyncpg.Connection) -> dict[str, Any]:
    """What users do in v2 after the cutover, as rows (the rehearsal does it over HTTP)."""
    migrated = await _some(conn, "SELECT id FROM users WHERE airtable_id IS NOT NULL LIMIT 1")
    newcomer = await _new_user(conn, "Newton")
    organiser = await _new_user(conn, "Orla")
    event = await conn.fetchval(
        "INSERT INTO events (name, slug, join_code, owner_id, phase) "
        "VALUES ('Rollback Jam', 'rollback-jam', 'RBJAM1', $1, 'voting') RETURNING id",
        organiser,
    )
    for user in (newcomer, migrated["id"], organiser):
        await conn.execute(
            "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)", event, user
        )
    project = await conn.fetchval(
        "INSERT INTO projects (name, join_code, owner_id, event_id, demo) "
        "VALUES ('Undo Button', 'UNDO01', $1, $2, 'https://example.org/undo') RETURNING id",
        newcomer,
        event,
    )
    await conn.execute(
        "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)",
        project,
        migrated["id"],
    )
    await conn.execute(
        "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
        organiser,
        project,
        event,
    )
    await conn.execute(
        "INSERT INTO referrals (content, user_id, event_id) VALUES ('a poster', $1, $2)",
        newcomer,
        event,
    )
    edited = await _some(
        conn, "SELECT id FROM projects WHERE airtable_id IS NOT NULL ORDER BY seq LIMIT 1"
    )
    await conn.execute("UPDATE projects SET name = 'Renamed in v2' WHERE id = $1", edited["id"])
    removed = await _some(
        conn,
        "SELECT a.event_id, a.user_id FROM event_attendees a JOIN events e ON e.id = a.event_id "
        "WHERE e.airtable_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM projects p "
        "WHERE p.event_id = a.event_id AND p.owner_id = a.user_id) LIMIT 1",
    )
    # Removing an attendee removes their votes in the event (a composite foreign key).
    removed_votes = [
        row["airtable_id"]
        for row in await conn.fetch(
            "SELECT airtable_id FROM votes WHERE event_id = $1 AND voter_id = $2",
            removed["event_id"],
            removed["user_id"],
        )
    ]
    await conn.execute(
        "DELETE FROM event_attendees WHERE event_id = $1 AND user_id = $2",
        removed["event_id"],
        removed["user_id"],
    )
    deleted = await _some(
        conn,
        "SELECT p.id, p.airtable_id FROM projects p WHERE p.airtable_id IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM votes v WHERE v.project_id = p.id) ORDER BY seq DESC LIMIT 1",
    )
    deleted_votes = removed_votes + [
        row["airtable_id"]
        for row in await conn.fetch(
            "SELECT airtable_id FROM votes WHERE project_id = $1 AND NOT (airtable_id = ANY($2))",
            deleted["id"],
            removed_votes,
        )
    ]
    await conn.execute("DELETE FROM projects WHERE id = $1", deleted["id"])
    return {
        "newcomer": newcomer,
        "event": event,
        "project": project,
        "edited": edited["id"],
        "removed": removed,
        "deleted_project": deleted["airtable_id"],
        "deleted_votes": deleted_votes,
    }


async def test_nothing_is_written_right_after_the_cutover(cutover: Cutover) -> None:
    before = len(cutover.fake.requests)

    result = await write_back(cutover.fake, cutover.url, cutover.since)

    assert result.writes == 0, result.tables
    writes = [r for r in cutover.fake.requests[before:] if r.method != "GET"]
    assert writes == []
    assert await v1_differences(cutover.fake, cutover.url) == []


async def test_every_v2_change_lands_in_airtable(cutover: Cutover) -> None:
    changes = await _v2_changes(cutover.conn)

    result = await write_back(cutover.fake, cutover.url, cutover.since)

    assert result.tables["users"]["created"] == 2
    assert result.tables["events"]["created"] == 1
    assert result.tables["votes"]["created"] == 1
    assert result.deleted["projects"] == [changes["deleted_project"]]
    assert sorted(result.deleted["votes"]) == sorted(changes["deleted_votes"])
    assert await v1_differences(cutover.fake, cutover.url) == []
    event = cutover.records("events")[await cutover.record_id("events", changes["event"])]
    assert event["name"] == "Rollback Jam" and event["votable"] is True
    assert len(event["attendees"]) == 3
    project = cutover.records("projects")[await cutover.record_id("projects", changes["project"])]
    assert project["points"] == 1 and len(project["collaborators"]) == 1
    edited = cutover.records("projects")[await cutover.record_id("projects", changes["edited"])]
    assert edited["name"] == "Renamed in v2"
    removed_event = await cutover.record_id("events", changes["removed"]["event_id"])
    removed_user = await cutover.record_id("users", changes["removed"]["user_id"])
    assert removed_user not in cutover.records("events")[removed_event].get("attendees", [])
    assert changes["deleted_project"] not in cutover.records("projects")
    user = cutover.records("users")[await cutover.record_id("users", changes["newcomer"])]
    assert user["first_name"] == "Newton"
    assert user["referral"] and user["attending_events"]  # Airtable's side of the links


async def test_a_second_run_writes_nothing(cutover: Cutover) -> None:
    await _v2_changes(cutover.conn)
    await write_back(cutover.fake, cutover.url, cutover.since)
    records_before = {name: len(records) for name, records in cutover.fake.tables.items()}
    requests_before = len(cutover.fake.requests)

    again = await write_back(cutover.fake, cutover.url, cutover.since)

    assert again.writes == 0, again.tables
    assert [r for r in cutover.fake.requests[requests_before:] if r.method != "GET"] == []
    assert {name: len(records) for name, records in cutover.fake.tables.items()} == records_before


async def test_a_crash_between_creating_records_and_storing_their_ids_duplicates_nothing(
    cutover: Cutover, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _v2_changes(cutover.conn)
    store = writeback._store_record_ids

    async def crash_on_events(conn: asyncpg.Connection, table: str, pairs: Any) -> None:
        if table == "events":
            raise ConnectionResetError("database connection lost")
        await store(conn, table, pairs)

    monkeypatch.setattr(writeback, "_store_record_ids", crash_on_events)
    with pytest.raises(ConnectionResetError):
        await write_back(cutover.fake, cutover.url, cutover.since)
    assert (
        sum(r["fields"].get("slug") == "rollback-jam" for r in cutover.fake.tables["events"]) == 1
    )
    monkeypatch.setattr(writeback, "_store_record_ids", store)

    result = await write_back(cutover.fake, cutover.url, cutover.since)

    assert result.tables["events"]["adopted"] == 1
    assert result.tables["events"]["created"] == 0
    slugs = [r["fields"].get("slug") for r in cutover.fake.tables["events"]]
    assert slugs.count("rollback-jam") == 1
    assert await v1_differences(cutover.fake, cutover.url) == []


async def test_a_duplicate_left_by_a_retried_create_is_deleted(cutover: Cutover) -> None:
    changes = await _v2_changes(cutover.conn)
    await write_back(cutover.fake, cutover.url, cutover.since)
    original = cutover.records("projects")[await cutover.record_id("projects", changes["project"])]
    copy = cutover.fake.add_record(
        "projects", {k: v for k, v in original.items() if k in ("name", "join_code", "demo")}
    )

    result = await write_back(cutover.fake, cutover.url, cutover.since)

    assert result.tables["projects"]["duplicates_deleted"] == 1
    assert copy["id"] not in cutover.records("projects")


async def test_a_dry_run_writes_nothing(cutover: Cutover) -> None:
    await _v2_changes(cutover.conn)
    before = len(cutover.fake.requests)

    result = await write_back(cutover.fake, cutover.url, cutover.since, dry_run=True)

    assert result.tables["users"]["created"] == 2
    assert result.tables["projects"]["updated"] >= 1
    assert sum(len(found) for found in result.deleted.values()) >= 2
    assert [r for r in cutover.fake.requests[before:] if r.method != "GET"] == []
    assert await cutover.conn.fetchval("SELECT count(*) FROM users WHERE airtable_id IS NULL") == 2


async def test_more_deletions_than_allowed_are_refused_before_any_write(cutover: Cutover) -> None:
    await _v2_changes(cutover.conn)
    await cutover.conn.execute("DELETE FROM events WHERE airtable_id IS NOT NULL")
    before = len(cutover.fake.requests)

    with pytest.raises(WriteBackRefused, match="--max-deletes 100"):
        await write_back(cutover.fake, cutover.url, cutover.since)

    assert [r for r in cutover.fake.requests[before:] if r.method != "GET"] == []


async def test_a_database_the_backfill_never_filled_is_refused(
    fake: FakeAirtable, fresh_database: str
) -> None:
    with pytest.raises(WriteBackRefused, match="no finished backfill"):
        await write_back(fake, fresh_database, datetime.now(UTC))


async def test_the_command_line_writes_back_and_reports(cutover: Cutover, tmp_path: Any) -> None:
    await _v2_changes(cutover.conn)
    env = {**cutover.fake.env(), "DATABASE_URL": cutover.url}
    report = tmp_path / "writeback.json"

    code, output = await run_script(
        ROLLBACK_SCRIPT, "--since", cutover.since.isoformat(), "--report", report, env=env
    )

    assert code == 0, output
    assert report.exists()
    assert "Write-back to appPodiumV1Legacy" in output
    assert await v1_differences(cutover.fake, cutover.url) == []
    code, output = await run_script(ROLLBACK_SCRIPT, "--since", "2026-01-01T00:00:00", env=env)
    assert code == 2 and "no time zone" in output


async def test_on_a_messy_base_only_v1_points_that_disagree_with_its_votes_are_written(
    fresh_database: str,
) -> None:
    base = generate_base(2000, seed=1)
    with FakeAirtable(base.tables, rate_limit=None, clock=FakeClock(wall=True)) as fake:
        await backfill(fake, fresh_database)

        result = await write_back(fake, fresh_database, datetime.now(UTC))

        mismatched = set(base.manifest.records["points_mismatch"])
        written = [r for r in fake.requests if r.method not in ("GET", "POST")]
        assert {r.method for r in written} <= {"PATCH"}
        patched = [record for r in written for record in r.body["records"]]
        assert {record["id"] for record in patched} == mismatched
        assert all(set(record["fields"]) == {"points"} for record in patched)
        assert result.writes == len(mismatched)
        # Fields the backfill repaired stay as v1 had them; links and points agree everywhere.
        assert await v1_differences(fake, fresh_database, rows={}) == []


async def _trash_event(url: str, event_id: Any) -> None:
    """Delete the event as its owner does (DELETE /events/{id}): into the trash."""
    database = Database(url, size=1)
    await database.open()
    try:
        async with database.transaction() as tx:
            event = await rows.one_by(tx, Event, "id", event_id)
            assert event is not None
            owner = await rows.one_by(tx, User, "id", event.owner.pk)
            assert owner is not None
            await trash.trash_event(tx, event, owner, timedelta(days=30))
    finally:
        await database.close()


async def test_a_trashed_event_is_deleted_in_airtable(cutover: Cutover) -> None:
    # v1 has no trash: what is in v2's trash is deleted as far as v1 can tell, as a rollback
    # leaves v1 the system of record. The rows stay in v2's trash (PostgreSQL) until purged.
    event = await _some(
        cutover.conn,
        "SELECT e.id, e.airtable_id FROM events e WHERE EXISTS "
        "(SELECT 1 FROM votes v WHERE v.event_id = e.id) LIMIT 1",
    )
    projects = {
        row["airtable_id"]
        for row in await cutover.conn.fetch(
            "SELECT airtable_id FROM projects WHERE event_id = $1", event["id"]
        )
    }
    votes = {
        row["airtable_id"]
        for row in await cutover.conn.fetch(
            "SELECT airtable_id FROM votes WHERE event_id = $1", event["id"]
        )
    }
    await _trash_event(cutover.url, event["id"])

    result = await write_back(cutover.fake, cutover.url, cutover.since, max_deletes=10_000)

    assert result.deleted["events"] == [event["airtable_id"]]
    assert set(result.deleted["projects"]) == projects
    assert set(result.deleted["votes"]) == votes
    assert event["airtable_id"] not in cutover.records("events")
    assert not projects & set(cutover.records("projects"))
    assert await v1_differences(cutover.fake, cutover.url) == []
    assert await cutover.conn.fetchval("SELECT count(*) FROM trash") == 1
