"""Comparing v2 values with what Airtable holds, and merging link lists."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from podium.cutover.plan import BackfillTrail, Ids, merged_links
from podium.cutover.v1_records import Row, airtable_value, same_value

SAME = [
    ("email", "ada@example.com", " Ada@Example.COM "),
    ("points", 0, None),
    ("hours_spent", 3, 3.0),
    ("feature_flags_csv", "beta,ysws", "beta, ysws"),
    ("cached_auto_quality", '{"a": 1, "b": 2}', '{"b":2,"a":1}'),
    ("name", "Undo", " Undo "),
    ("votable", False, None),
    ("description", "", None),
]
DIFFERENT = [
    ("email", "ada@example.com", "grace@example.com"),
    ("points", 1, None),
    ("hours_spent", 3, "3"),
    ("feature_flags_csv", "beta", "beta,ysws"),
    ("cached_auto_quality", "", "not json"),
    ("cached_auto_quality", '{"a": 1}', "not json"),
    ("votable", True, None),
    ("name", "Undo", ["Undo"]),
]


@pytest.mark.parametrize(("name", "wanted", "current"), SAME)
def test_values_that_differ_only_in_form_are_the_same(
    name: str, wanted: object, current: object
) -> None:
    assert same_value(name, wanted, current)


@pytest.mark.parametrize(("name", "wanted", "current"), DIFFERENT)
def test_values_that_differ_are_written(name: str, wanted: object, current: object) -> None:
    assert not same_value(name, wanted, current)


def test_empty_values_clear_the_field_and_false_unchecks() -> None:
    assert airtable_value("") is None
    assert airtable_value(False) is False
    assert airtable_value(0) == 0


def _user(record_id: str | None) -> Row:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    return Row(uuid.uuid4(), record_id, moment, moment, {}, {})


def test_a_link_list_keeps_links_v2_knows_nothing_about_and_those_to_merged_users() -> None:
    kept, survivor, leaving, joining = (_user(f"rec{c * 14}") for c in "KSLJ")
    users = {row.id: row for row in (kept, survivor, leaving, joining)}
    trail = BackfillTrail({}, {"recMergedDuplic01": survivor.airtable_id or ""}, None)
    ids = Ids({"users": users}, trail)
    rejected = "recRejectedUser01"  # in the base, not migrated
    gone = "recDeletedLongAgo"  # a link to a record that exists nowhere
    current = [rejected, "recMergedDuplic01", str(leaving.airtable_id), gone]
    known = {
        "users": {rejected, "recMergedDuplic01", *(str(u.airtable_id) for u in users.values())}
    }

    merged = merged_links(current, {survivor.id, joining.id}, "users", ids, known)

    assert merged == [rejected, "recMergedDuplic01", joining.airtable_id]
    assert merged_links(merged, {survivor.id, joining.id}, "users", ids, known) is None
