"""`run` and `--dry-run` against the fake Airtable: clean and messy bases, idempotence, CLI."""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from podium.backfill.cli import main
from podium.backfill.pipeline import Backfill
from podium.backfill.verify import verify
from podium.ids import Entity
from podium.public_ids import decode_id, public_id
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, dump, scalar, source_for

pytestmark = pytest.mark.db

# What each kind of planted mess must become (docs/backfill.md, "Mess rules").
EXPECTED_RULES: dict[str, set[str]] = {
    "email_case_duplicate": {"merged_duplicate_email"},
    "user_missing_email": {"missing_required_field"},
    "user_missing_first_name": {"derived_required_field"},
    "event_missing_name": {"derived_required_field"},
    "project_missing_name": {"derived_required_field"},
    "vote_missing_link": {"missing_required_link", "vote_event_derived"},
    "dangling_link": {"dangling_link", "dangling_link_dropped"},
    "duplicate_vote": {"duplicate_vote"},
    "vote_cross_event": {"vote_event_mismatch"},
    "vote_by_non_attendee": {"vote_by_non_attendee"},
    "vote_for_own_project": {"vote_for_own_project"},
    "points_mismatch": {"points_mismatch"},
    "formula_error": {"formula_error"},
    "invalid_dob": {"invalid_dob"},
    "negative_hours_spent": {"invalid_hours_spent"},
    "invalid_feature_flag": {"invalid_feature_flag"},
    "invalid_quality_json": {"invalid_cached_auto_quality"},
    "duplicate_event_slug": {"duplicate_slug"},
    "duplicate_event_join_code": {"duplicate_join_code"},
    "sparse_record": set(),  # valid: lands with defaults, no entry
}
LANDS = {"repaired", "noted"}


def point_cli_at(monkeypatch: pytest.MonkeyPatch, fake: FakeAirtable, database: str) -> None:
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("AIRTABLE_REQUESTS_PER_SECOND", "1000")


async def test_clean_base_migrates_completely_and_verifies(
    clean_base: GeneratedBase, database: str
) -> None:
    with FakeAirtable(clean_base.tables, rate_limit=None) as fake:
        result = await backfill(fake, database).run()
        check = await verify(source_for(fake), database)
    assert check.ok
    assert result.quarantined == 0 and result.entries == []
    for table, records in clean_base.tables.items():
        counts = result.counts[table]
        assert counts["read"] == counts["inserted"] == len(records), table
    assert await scalar(database, "SELECT count(*) FROM users") == len(clean_base.tables["users"])


async def test_every_planted_mess_is_quarantined_with_its_rule(
    messy_base: GeneratedBase,
    fake: FakeAirtable,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_cli_at(monkeypatch, fake, database)
    report = tmp_path / "quarantine.json"
    code = await asyncio.to_thread(main, ["run", "--no-progress", "--report", str(report)])
    assert code == 0
    conn = await asyncpg.connect(database)
    try:
        entries = [dict(row) for row in await conn.fetch("SELECT * FROM backfill_quarantine")]
        landed = {
            table: {row[0] for row in await conn.fetch(f"SELECT airtable_id FROM {table}")}
            for table in ("users", "events", "projects", "votes", "referrals")
        }
    finally:
        await conn.close()
    rules: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        rules[entry["record_id"]].add(entry["rule"])
    table_of = {
        record["id"]: table for table, records in messy_base.tables.items() for record in records
    }

    for kind, record_ids in messy_base.manifest.records.items():
        assert record_ids, kind
        for record_id in record_ids:
            got = rules.get(record_id, set())
            if not EXPECTED_RULES[kind]:
                assert not got, (kind, record_id, got)
                assert record_id in landed[table_of[record_id]], (kind, record_id)
                continue
            assert len(got) == 1 and got <= EXPECTED_RULES[kind], (kind, record_id, got)
            (entry,) = [e for e in entries if e["record_id"] == record_id]
            assert entry["message"] and entry["action"]
            assert json.loads(entry["record"])["id"] == record_id
            lands = entry["disposition"] in LANDS
            assert (record_id in landed[table_of[record_id]]) == lands, (kind, record_id)

    # Anything else in the quarantine is a consequence of a planted problem, and says which.
    planted = {record_id for ids in messy_base.manifest.records.values() for record_id in ids}
    rejected = {e["record_id"] for e in entries if e["disposition"] in ("rejected", "merged")}
    for entry in entries:
        if entry["record_id"] not in planted:
            assert entry["rule"] == "link_to_rejected_record", entry
            assert entry["related_record_id"] in rejected

    # Merged duplicates name the earliest user of the email, which landed.
    for entry in entries:
        if entry["rule"] == "merged_duplicate_email":
            assert entry["related_record_id"] in landed["users"]

    document = json.loads(report.read_text())
    assert {(e["table"], e["record_id"], e["rule"]) for e in document["quarantine"]} == {
        (e["source_table"], e["record_id"], e["rule"]) for e in entries
    }
    assert all(e["action"] and e["record"] for e in document["quarantine"])
    check = await verify(source_for(fake), database)
    assert check.ok, [c.as_json() for c in check.tables if not c.ok]


async def test_repairs_keep_database_rules(
    messy_base: GeneratedBase, fake: FakeAirtable, database: str
) -> None:
    await backfill(fake, database).run()
    conn = await asyncpg.connect(database)
    try:
        slugs = [row[0] for row in await conn.fetch("SELECT slug FROM events")]
        codes = [row[0] for row in await conn.fetch("SELECT join_code FROM events")]
        flags = [row[0] for row in await conn.fetch("SELECT feature_flags::text FROM events")]
        hours = await conn.fetchval("SELECT min(hours_spent) FROM projects")
        sparse_users = await conn.fetch(
            "SELECT first_name, last_name, display_name FROM users WHERE airtable_id = ANY($1)",
            messy_base.manifest.records["sparse_record"],
        )
    finally:
        await conn.close()
    assert len(set(slugs)) == len(slugs) and len(set(codes)) == len(codes)
    assert all(code == code.upper() for code in codes)
    assert all(re.fullmatch(r"[a-zA-Z0-9_]+", name) for flag in flags for name in json.loads(flag))
    assert hours >= 0
    for user in sparse_users:
        assert user["display_name"] == user["first_name"]  # no last name: "Ada", not "Ada ."


async def test_second_run_changes_nothing(fake: FakeAirtable, database: str) -> None:
    first = await backfill(fake, database).run()
    before = await dump(database)
    second = await backfill(fake, database).run()
    assert await dump(database) == before
    for table, counts in second.counts.items():
        assert counts["inserted"] == counts["updated"] == counts["stale"] == 0, table
        assert counts["unchanged"] == first.counts[table]["inserted"], table
        assert counts["quarantined"] == first.counts[table]["quarantined"], table
    assert second.resumed == []


async def test_changed_record_updates_its_row_on_the_next_run(
    messy_base: GeneratedBase, fake: FakeAirtable, database: str
) -> None:
    await backfill(fake, database).run()
    user = next(r for r in messy_base.tables["users"] if r["fields"].get("last_name"))
    fake.update_record("users", user["id"], {"city": "Reykjavik"})
    result = await backfill(fake, database).run()
    assert result.counts["users"]["updated"] == 1
    assert (
        await scalar(database, "SELECT city FROM users WHERE airtable_id = $1", user["id"])
        == "Reykjavik"
    )


async def test_dry_run_predicts_run_and_writes_nothing(fake: FakeAirtable, database: str) -> None:
    planned = await backfill(fake, database, dry_run=True).run()
    assert await scalar(database, "SELECT count(*) FROM users") == 0
    assert await scalar(database, "SELECT count(*) FROM backfill_quarantine") == 0
    assert await scalar(database, "SELECT count(*) FROM backfill_runs") == 0
    done = await backfill(fake, database).run()
    assert planned.counts == done.counts
    key = ("table", "record_id", "rule", "disposition")
    assert sorted(tuple(e[k] for k in key) for e in planned.entries) == sorted(
        tuple(e[k] for k in key) for e in done.entries
    )
    again = await backfill(fake, database, dry_run=True).run()
    assert all(counts["inserted"] == counts["updated"] == 0 for counts in again.counts.values())


async def test_migrated_rows_have_working_public_ids(fake: FakeAirtable, database: str) -> None:
    await backfill(fake, database).run()
    entities = {
        "users": Entity.USER,
        "events": Entity.EVENT,
        "projects": Entity.PROJECT,
        "votes": Entity.VOTE,
        "referrals": Entity.REFERRAL,
    }
    conn = await asyncpg.connect(database)
    try:
        for table, entity in entities.items():
            rows = await conn.fetch(
                f"SELECT seq, airtable_id FROM {table} ORDER BY airtable_id LIMIT 20"
            )
            assert rows, table
            for row in rows:
                short = public_id(entity, row["seq"])
                assert decode_id(entity, short) == row["seq"]
                assert short != row["airtable_id"]
    finally:
        await conn.close()


async def test_tables_can_be_named_by_id(fake: FakeAirtable, database: str) -> None:
    by_id = source_for(fake, tables=dict(fake.table_ids))
    result = await Backfill(by_id, database).run()
    assert result.counts["users"]["inserted"] > 0


async def test_cli_needs_its_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AIRTABLE_TOKEN", "AIRTABLE_BASE_ID", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run"]) == 2
    assert "AIRTABLE_TOKEN" in capsys.readouterr().err
