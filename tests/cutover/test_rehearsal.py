"""The cutover and its rollback, end to end, as docs/cutover.md runs them.

A generated messy v1 base on the fake Airtable (throttled to Airtable's 5 requests/second) →
backfill `run` → `verify` → the API in production mode on the migrated database (a real server)
→ the smoke test → users change things over HTTP → rollback write-back → the base holds every
change, v1's records and links match PostgreSQL, and a second write-back writes nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from tests.cutover.conftest import (
    ServerProcess,
    server_env,
    source_for,
    start_server,
    stop_server,
    write_back,
)
from tests.cutover.v1_check import v1_differences

from podium.backfill import cli as backfill_cli
from podium.backfill.verify import verify
from podium.cutover import smoke
from podium.cutover import writeback as writeback_cli
from podium.security import TokenType, create_token
from podium_devtools.airtable_base import generate_base
from podium_devtools.airtable_store import FakeClock
from podium_devtools.fake_airtable import FakeAirtable

pytestmark = pytest.mark.slow

BASE_RECORDS = 2000  # the smallest generated base with two of every kind of mess
AIRTABLE_RATE = 5.0  # requests/second, Airtable's limit per base; the fake enforces it
JWT_SECRET = "rehearsal-" + secrets.token_hex(16)
SMOKE_ACCOUNTS = ("smoke-a@podium.example", "smoke-b@podium.example")
SMOKE_SIGNED_UP = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeAirtable]:
    base = generate_base(BASE_RECORDS, seed=21)
    with FakeAirtable(base.tables, rate_limit=AIRTABLE_RATE, clock=FakeClock(wall=True)) as server:
        # The smoke-test accounts sign up in v1 before the cutover and are migrated with it.
        for email, name in zip(SMOKE_ACCOUNTS, ("Smoke A", "Smoke B"), strict=True):
            server.add_record(
                "users",
                {"email": email, "first_name": name, "display_name": name},
                created_time=SMOKE_SIGNED_UP,
            )
        server.reset_log()
        yield server


@pytest.fixture
def airtable_env(
    fake: FakeAirtable, fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The cutover tools' environment, as Doppler would inject it."""
    env = {
        **fake.env(),
        "DATABASE_URL": fresh_database,
        "AIRTABLE_REQUESTS_PER_SECOND": str(AIRTABLE_RATE),
        "PODIUM_JWT_SECRET": JWT_SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
async def api(fresh_database: str, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    env = server_env(
        fresh_database,
        PODIUM_ENV="production",
        PODIUM_JWT_SECRET=JWT_SECRET,
        PODIUM_ID_KEY="rehearsal-id-key-" + secrets.token_hex(8),
        PODIUM_LOOPS_API_KEY="unused-in-the-rehearsal",
        PODIUM_LOOPS_TRANSACTIONAL_ID="unused-in-the-rehearsal",
    )
    server = await asyncio.to_thread(start_server, ["serve"], env, tmp_path / "api.log")
    try:
        yield server
    finally:
        await asyncio.to_thread(stop_server, server.process)


class Client:
    """The API as a user sees it: a bearer token per email, minted as /verify would."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(
        self, method: str, path: str, email: str | None = None, expect: int = 200, **kw: Any
    ) -> Any:
        headers = {}
        if email is not None:
            token = create_token(email, TokenType.ACCESS, JWT_SECRET, smoke.MINTED_TOKEN_LIFETIME)
            headers["Authorization"] = f"Bearer {token}"
        response = await self.http.request(method, path, headers=headers, **kw)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else None

    async def short_id(self, record_id: str) -> str:
        response = await self.http.get(f"/legacy/{record_id}")
        assert response.status_code == 308, response.text
        return response.headers["location"].rsplit("/", 1)[1]


async def _pick(conn: asyncpg.Connection, sql: str, *args: Any) -> asyncpg.Record:
    row = await conn.fetchrow(sql, *args)
    assert row is not None, sql
    return row


async def _run_cli(main: Any, *argv: str) -> int:
    code: int = await asyncio.to_thread(main, list(argv))
    # Each tool paces its own requests; one started within a second of the last one's final
    # requests would meet them in Airtable's one-second window. An operator is never that quick.
    await asyncio.sleep(1.0)
    return code


async def test_cutover_rehearsal_then_rollback_loses_nothing(
    fake: FakeAirtable,
    airtable_env: dict[str, str],
    fresh_database: str,
    api: ServerProcess,
    tmp_path: Path,
) -> None:
    # -- cutover: migrate, verify ------------------------------------------------------------
    assert await _run_cli(backfill_cli.main, "run", "--report", str(tmp_path / "run.json")) == 0
    assert await _run_cli(backfill_cli.main, "verify", "--report", str(tmp_path / "v.json")) == 0
    since = datetime.now(UTC)
    conn = await asyncpg.connect(fresh_database)
    try:
        event0 = await _pick(
            conn, "SELECT airtable_id, join_code FROM events WHERE airtable_id IS NOT NULL LIMIT 1"
        )
        # -- deploy v2, smoke test -----------------------------------------------------------
        smoke_args = [api.url, "--accounts", *SMOKE_ACCOUNTS, "--legacy-id", event0["airtable_id"]]
        assert await _run_cli(smoke.main, *smoke_args) == 0

        # -- users at work in v2 -------------------------------------------------------------
        m1, m2 = await conn.fetch(
            "SELECT email, airtable_id FROM users WHERE airtable_id IS NOT NULL "
            "AND email NOT LIKE 'smoke-%' ORDER BY seq LIMIT 2"
        )
        edited = await _pick(
            conn,
            "SELECT p.airtable_id, u.email FROM projects p JOIN users u ON u.id = p.owner_id "
            "WHERE p.airtable_id IS NOT NULL ORDER BY p.seq LIMIT 1",
        )
        doomed = await _pick(
            conn,
            "SELECT p.airtable_id, u.email FROM projects p JOIN users u ON u.id = p.owner_id "
            "WHERE p.airtable_id IS NOT NULL AND p.airtable_id <> $1 ORDER BY p.seq DESC LIMIT 1",
            edited["airtable_id"],
        )
        async with httpx.AsyncClient(base_url=api.url, timeout=15) as http:
            client = Client(http)
            newbie = "nova-" + secrets.token_hex(3) + "@example.org"
            await client.call(
                "POST", "/users/", json={"email": newbie, "first_name": "Nova"}, expect=201
            )
            event = await client.call(
                "POST", "/events/", m1["email"], 201, json={"name": "Rollback Rehearsal"}
            )
            await client.call(
                "PUT",
                f"/events/{event['id']}",
                m1["email"],
                json={"votable": True, "leaderboard_enabled": True},
            )
            for email in (newbie, m2["email"], m1["email"]):
                await client.call(
                    "POST", "/events/attend", email, params={"join_code": event["join_code"]}
                )
            urls = {
                "repo": "https://example.org/rehearsal",
                "image_url": "https://example.org/rehearsal.png",
                "demo": "https://example.org/rehearsal/demo",
            }
            project = await client.call(
                "POST",
                "/projects/",
                newbie,
                201,
                json={"name": "Undo", "event": event["id"], **urls},
            )
            await client.call(
                "POST", "/projects/join", m2["email"], params={"join_code": project["join_code"]}
            )
            await client.call(
                "POST",
                "/events/vote",
                m1["email"],
                201,
                json={"event": event["id"], "projects": [project["id"]]},
            )
            edited_id = await client.short_id(edited["airtable_id"])
            await client.call(
                "PUT",
                f"/projects/{edited_id}",
                edited["email"],
                json={"name": "Edited after the cutover", "hours_spent": 7, **urls},
            )
            doomed_id = await client.short_id(doomed["airtable_id"])
            await client.call("DELETE", f"/projects/{doomed_id}", doomed["email"], 204)
            await client.call(
                "POST",
                "/events/attend",
                newbie,
                params={"join_code": event0["join_code"], "referral": "a rehearsal poster"},
            )

        # -- rollback: write back, then v1 shows all of it -----------------------------------
        report = tmp_path / "writeback.json"
        assert (
            await _run_cli(
                writeback_cli.main, "--since", since.isoformat(), "--report", str(report)
            )
            == 0
        )
        changed, created = {}, {}
        for table in ("users", "events", "projects", "votes", "referrals"):
            rows = await conn.fetch(
                f"SELECT airtable_id, created_at > $1 AS new FROM {table} "
                "WHERE created_at > $1 OR updated_at > $1",
                since,
            )
            changed[table] = {row["airtable_id"] for row in rows}
            created[table] = sorted(row["airtable_id"] for row in rows if row["new"])
        new_user = await _pick(conn, "SELECT airtable_id FROM users WHERE email = $1", newbie)
        new_event = await _pick(
            conn, "SELECT airtable_id FROM events WHERE name = 'Rollback Rehearsal'"
        )
        new_project = await _pick(conn, "SELECT airtable_id FROM projects WHERE name = 'Undo'")
    finally:
        await conn.close()

    differences = await v1_differences(fake, fresh_database, rows=changed)
    assert differences == [], "\n".join(differences)
    records = {name: {r["id"]: r["fields"] for r in rs} for name, rs in fake.tables.items()}
    assert records["users"][new_user["airtable_id"]]["first_name"] == "Nova"
    v1_event = records["events"][new_event["airtable_id"]]
    assert v1_event["owner"] == [m1["airtable_id"]] and v1_event["votable"] is True
    assert set(v1_event["attendees"]) == {
        new_user["airtable_id"],
        m1["airtable_id"],
        m2["airtable_id"],
    }
    v1_project = records["projects"][new_project["airtable_id"]]
    assert v1_project["owner"] == [new_user["airtable_id"]]
    assert v1_project["collaborators"] == [m2["airtable_id"]]
    assert v1_project["points"] == 1 and len(v1_project["votes"]) == 1
    assert records["projects"][edited["airtable_id"]]["name"] == "Edited after the cutover"
    assert records["projects"][edited["airtable_id"]]["hours_spent"] == 7
    assert doomed["airtable_id"] not in records["projects"]
    assert new_user["airtable_id"] in records["events"][event0["airtable_id"]]["attendees"]
    referrals = [
        r for r in records["referrals"].values() if r.get("content") == "a rehearsal poster"
    ]
    assert [r["user"] for r in referrals] == [[new_user["airtable_id"]]]
    assert fake.rate_limited == 0  # paced under Airtable's 5 requests/second throughout

    # The backfill's own verify, an independent comparison, agrees record by record and link
    # by link, on both sides of every link. The only records it tells apart are those v2
    # created: their created_at is v2's, while Airtable dates a record when it is written.
    source = source_for(fake, AIRTABLE_RATE)
    try:
        checked = await verify(source, fresh_database)
    finally:
        source.close()
    for check in checked.tables:
        assert (check.missing, check.extra, check.link_problems) == ([], [], []), check.as_json()
        assert sorted(check.mismatched) == created.get(check.table, []), check.as_json()

    again = await write_back(fake, fresh_database, since, requests_per_second=AIRTABLE_RATE)
    assert again.writes == 0, again.tables
