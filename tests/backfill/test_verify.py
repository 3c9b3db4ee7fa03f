"""`verify` fails loudly on any difference: fields, missing or extra rows, links, quarantine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from podium.backfill.cli import main
from podium.backfill.verify import verify
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, source_for

pytestmark = pytest.mark.db


async def test_verify_reports_every_kind_of_difference(
    messy_base: GeneratedBase, fake: FakeAirtable, database: str
) -> None:
    await backfill(fake, database).run()
    conn = await asyncpg.connect(database)
    try:
        changed = await conn.fetchval(
            "UPDATE users SET city = 'Atlantis' WHERE airtable_id = "
            "(SELECT min(airtable_id) FROM users) RETURNING airtable_id"
        )
        removed = await conn.fetchval(
            "DELETE FROM referrals WHERE airtable_id = (SELECT min(airtable_id) FROM referrals) "
            "RETURNING airtable_id"
        )
        attendee = await conn.fetchrow(
            "DELETE FROM event_attendees WHERE id = (SELECT a.id FROM event_attendees a "
            "JOIN users u ON u.id = a.user_id WHERE NOT EXISTS (SELECT 1 FROM votes v "
            "WHERE v.voter_id = a.user_id AND v.event_id = a.event_id) LIMIT 1) "
            "RETURNING event_id, user_id"
        )
        await conn.execute(
            "DELETE FROM backfill_quarantine WHERE id = "
            "(SELECT id FROM backfill_quarantine WHERE rule = 'points_mismatch' LIMIT 1)"
        )
    finally:
        await conn.close()
    result = await verify(source_for(fake), database)
    assert not result.ok
    checks = {check.table: check for check in result.tables}
    assert checks["users"].mismatched == [changed]
    assert checks["referrals"].missing == [removed]
    assert len(checks["event_attendees"].missing) == 1
    assert checks[
        "event_attendees"
    ].link_problems  # seen from events.attendees and users.attending_events
    assert attendee is not None
    assert len(result.quarantine.missing) == 1
    assert checks["votes"].ok and checks["projects"].ok


async def test_cli_verify_exit_code_and_report(
    fake: FakeAirtable, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        **fake.env(),
        "DATABASE_URL": database,
        "AIRTABLE_REQUESTS_PER_SECOND": "1000",
    }.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "verify.json"
    assert (
        await asyncio.to_thread(main, ["verify", "--report", str(report)]) == 1
    )  # nothing migrated
    assert json.loads(report.read_text())["ok"] is False
    assert (
        await asyncio.to_thread(
            main, ["run", "--no-progress", "--report", str(tmp_path / "r.json")]
        )
        == 0
    )
    assert await asyncio.to_thread(main, ["verify", "--report", str(report)]) == 0
    document = json.loads(report.read_text())
    assert document["ok"] is True
    assert {table["table"] for table in document["tables"]} >= {"users", "votes", "event_attendees"}
