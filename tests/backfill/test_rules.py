"""The rules without a database: value parsing, derived values, order independence, docs."""

from __future__ import annotations

import random
import re
import threading
import time
from datetime import date
from pathlib import Path

from podium.backfill.airtable import RateLimiter
from podium.backfill.context import Context
from podium.backfill.plan import Existing
from podium.backfill.rules import RULES
from podium.backfill.stages import plan_stage
from podium.backfill.tables import RECORD_TABLES, STAGES
from podium.backfill.values import (
    FieldReader,
    derived_join_code,
    display_name_for,
    parse_dob,
    parse_quality,
    split_feature_flags,
    suffixed_slug,
)
from podium.backfill.verify import record_hash
from podium_devtools.airtable_base import GeneratedBase

DOCS = Path(__file__).resolve().parents[2] / "docs" / "backfill.md"


def test_dob_must_be_a_real_iso_date() -> None:
    assert parse_dob("1990-07-04") == date(1990, 7, 4)
    for text in ("1990-13-45", "2001-02-30", "31/12/1999", "19950704", "0000-00-00", "soon"):
        assert parse_dob(text) is None, text


def test_quality_must_be_a_json_object() -> None:
    assert parse_quality('{"score": 0.7}') == {"score": 0.7}
    for text in (
        '{"score": 0.7, "checks": {',
        "{'score': 0.5}",
        "NaN",
        '{"score": NaN}',
        "[1]",
        "3",
    ):
        assert parse_quality(text) is None, text


def test_feature_flags_keep_valid_names_only() -> None:
    assert split_feature_flags("judge_mode, quality checks,,judge_mode,beta-2") == (
        ["judge_mode"],
        ["quality checks", "beta-2"],
    )


def test_derived_values_are_valid_and_stable() -> None:
    code = derived_join_code("recAAAAAAAAAAAAAA")
    assert re.fullmatch(r"[A-Z0-9]{4,16}", code)
    assert (
        code == derived_join_code("recAAAAAAAAAAAAAA") != derived_join_code("recAAAAAAAAAAAAAA", 1)
    )
    slug = suffixed_slug("a" * 50, "recAAAAAAAAAAAAAA")
    assert re.fullmatch(r"[-a-z0-9]{1,50}", slug)
    assert display_name_for("Ada", "lovelace") == "Ada L." and display_name_for("Ada", "") == "Ada"


def test_absent_fields_are_empty_and_formula_errors_are_reported() -> None:
    reader = FieldReader({"votable": True, "name": {"error": "#ERROR!"}})
    assert reader.checkbox("votable") and not reader.checkbox("leaderboard_enabled")
    assert reader.text("description") == "" and reader.links("attendees") == []
    assert reader.text("name") == ""
    assert [issue.rule.name for issue in reader.finish()] == ["formula_error_value"]


def test_text_the_database_would_refuse_is_caught_before_writing() -> None:
    records = [
        {
            "id": "recUPPERCASEUMLT1",
            "createdTime": "2024-01-01T00:00:00.000Z",
            "fields": {"email": "ÀDA@example.com", "first_name": "Ada"},
        },
        {
            "id": "recNULCHARACTER01",
            "createdTime": "2024-01-01T00:00:00.000Z",
            "fields": {"email": "nul@example.com", "first_name": "A\x00da"},
        },
    ]
    plan = plan_stage("users", records, Context(), Existing(), full=True)
    rules = {(entry.record_id, entry.rule) for entry in plan.entries}
    assert rules == {("recUPPERCASEUMLT1", "invalid_email"), ("recNULCHARACTER01", "invalid_value")}
    (row,) = plan.rows["users"]
    assert row["first_name"] == "Ada"
    assert all("\x00" not in str(entry.as_json()) for entry in plan.entries)


def test_plans_do_not_depend_on_reading_order(messy_base: GeneratedBase) -> None:
    def plan(shuffle: int | None) -> tuple[set[str], set[tuple[str, str, str, str | None]]]:
        context, existing = Context(), Existing()
        hashes: set[str] = set()
        entries: set[tuple[str, str, str, str | None]] = set()
        plans = []
        for stage in STAGES:
            records = list(messy_base.tables[stage])
            if shuffle is not None:
                random.Random(shuffle).shuffle(records)
            plans.append(plan_stage(stage, records, context, existing, full=True))
        keys = {
            row["id"]: row["airtable_id"] for p in plans for rows in p.rows.values() for row in rows
        }
        for stage_plan in plans:
            for table, rows in stage_plan.rows.items():
                if table in RECORD_TABLES:
                    hashes.update(record_hash(table, row, keys) for row in rows)
            entries.update(
                (e.record_id, e.rule, e.disposition, e.related_record_id)
                for e in stage_plan.entries
            )
        return hashes, entries

    assert plan(None) == plan(1) == plan(2)


def test_docs_explain_every_rule() -> None:
    text = DOCS.read_text()
    for name, rule in RULES.items():
        assert f"| `{name}` | {rule.disposition.value} |" in text, name


def test_rate_limiter_counts_a_window_from_each_answer() -> None:
    limiter = RateLimiter(20, window=0.1, margin=0.0, stop=threading.Event())  # 2 per 0.1 s
    assert limiter.limit == 2
    started = time.monotonic()
    answered = []
    for _ in range(6):
        slot = limiter.acquire()
        time.sleep(0.01)  # the request's latency
        limiter.release(slot)
        answered.append(time.monotonic())
    # Requests 3 and 5 each waited a full window after the answer two places before them.
    assert answered[-1] - started >= 2 * 0.1 + 0.01


def test_a_new_rate_limiter_waits_out_a_window_another_process_may_have_used() -> None:
    limiter = RateLimiter(20, window=0.1, margin=0.0, stop=threading.Event())
    started = time.monotonic()
    limiter.release(limiter.acquire())
    assert time.monotonic() - started >= 0.1
