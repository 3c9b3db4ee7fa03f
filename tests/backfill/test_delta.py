"""`delta --since`: changed and new records re-synced, quarantined ones retried, deletions found."""

from __future__ import annotations

import pytest

from podium.backfill.verify import verify
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.airtable_store import FakeClock
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, scalar, source_for

pytestmark = pytest.mark.db


def _pick(base: GeneratedBase, table: str, **wanted: object) -> dict[str, object]:
    planted = {record_id for ids in base.manifest.records.values() for record_id in ids}
    return next(
        record
        for record in base.tables[table]
        if record["id"] not in planted
        and all(record["fields"].get(name) == value for name, value in wanted.items())
    )


async def test_delta_picks_up_changed_and_new_records_and_reports_deleted(
    messy_base: GeneratedBase, fake: FakeAirtable, database: str
) -> None:
    await backfill(fake, database).run()
    since = fake.clock.now()
    fake.clock.advance(60)
    changed = _pick(messy_base, "users")
    fake.update_record("users", str(changed["id"]), {"first_name": "Renamed"})
    event = _pick(messy_base, "events")
    new_user = fake.add_record(
        "users",
        {"email": "new.person@example.com", "first_name": "New", "attending_events": [event["id"]]},
    )
    referral = _pick(messy_base, "referrals")
    fake.delete_record("referrals", str(referral["id"]))

    result = await backfill(fake, database).delta(since)

    assert result.counts["users"]["updated"] == 1
    assert result.counts["users"]["inserted"] == 1
    assert result.counts["event_attendees"]["inserted"] == 1
    assert result.deleted["referrals"] == [referral["id"]]
    assert all(not ids for table, ids in result.deleted.items() if table != "referrals")
    assert (
        await scalar(database, "SELECT first_name FROM users WHERE airtable_id = $1", changed["id"])
        == "Renamed"
    )
    assert (
        await scalar(
            database, "SELECT display_name FROM users WHERE airtable_id = $1", new_user["id"]
        )
        == "New"
    )
    # Reported, not deleted, without --delete: the row stays and verify says so.
    assert (
        await scalar(
            database, "SELECT count(*) FROM referrals WHERE airtable_id = $1", referral["id"]
        )
        == 1
    )
    check = await verify(source_for(fake), database)
    referrals = next(c for c in check.tables if c.table == "referrals")
    assert referrals.extra == [referral["id"]] and not check.ok

    pruned = await backfill(fake, database, delete=True).delta(since)
    assert pruned.removed == {"referrals": 1}
    assert (
        await scalar(
            database, "SELECT count(*) FROM referrals WHERE airtable_id = $1", referral["id"]
        )
        == 0
    )
    assert (await verify(source_for(fake), database)).ok


async def test_delta_with_nothing_changed_writes_nothing(fake: FakeAirtable, database: str) -> None:
    await backfill(fake, database).run()
    fake.clock.advance(60)
    result = await backfill(fake, database).delta(fake.clock.now())
    for table, counts in result.counts.items():
        assert counts["inserted"] == counts["updated"] == 0, table
    # Only the quarantined records are re-read (they are retried by every delta).
    assert result.counts["users"]["read"] == result.counts["users"]["quarantined"]


async def test_delta_retries_a_quarantined_record_once_fixed_in_airtable(
    messy_base: GeneratedBase, fake: FakeAirtable, database: str
) -> None:
    await backfill(fake, database).run()
    (missing_email, *_) = messy_base.manifest.records["user_missing_email"]
    (cross_event_vote, *_) = messy_base.manifest.records["vote_cross_event"]
    since = fake.clock.now()
    fake.clock.advance(60)
    fake.update_record("users", missing_email, {"email": "Found.Again@Example.com "})
    result = await backfill(fake, database).delta(since)
    assert result.counts["users"]["inserted"] == 1
    assert (
        await scalar(database, "SELECT email FROM users WHERE airtable_id = $1", missing_email)
        == "found.again@example.com"
    )
    assert (
        await scalar(
            database, "SELECT count(*) FROM backfill_quarantine WHERE record_id = $1", missing_email
        )
        == 0
    )
    # Records whose problem is not fixed stay quarantined, once.
    assert (
        await scalar(
            database,
            "SELECT count(*) FROM backfill_quarantine WHERE record_id = $1",
            cross_event_vote,
        )
        == 1
    )
    assert (await verify(source_for(fake), database)).ok


async def test_delta_since_last_uses_the_last_finished_run(
    messy_base: GeneratedBase, database: str
) -> None:
    # "last" compares Airtable's clock with ours: the fake follows the wall clock here.
    with FakeAirtable(messy_base.tables, rate_limit=None, clock=FakeClock(wall=True)) as fake:
        await backfill(fake, database).run()
        user = _pick(messy_base, "users")
        fake.update_record("users", str(user["id"]), {"city": "Nairobi"})
        result = await backfill(fake, database).delta(None, scan_deletions=False)
    assert result.since is not None
    assert result.counts["users"]["updated"] == 1
