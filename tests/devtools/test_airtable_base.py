"""The v1 base generator: exact, deterministic, clean when asked, and honest about its mess.

`find_mess` below is written from the mess descriptions, independently of how the generator
plants them: the manifest must list exactly what it finds, no more and no less.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium_devtools.airtable_base import (
    EVENT_OPTIONAL,
    MESS_KINDS,
    PROJECT_OPTIONAL,
    USER_OPTIONAL,
    TooSmallForMess,
    default_mess_counts,
    generate_base,
    max_votes_per_user,
)
from podium_devtools.airtable_layout import (
    RECORD_ID_RE,
    V1_LAYOUT,
    AirtableRecord,
    Link,
    Lookup,
    check_layout,
    is_empty,
    lookup_value,
)

Tables = Mapping[str, list[AirtableRecord]]
FLAG_NAME = re.compile(r"[A-Za-z0-9_]+")


def by_id(tables: Tables) -> dict[str, dict[str, AirtableRecord]]:
    return {name: {record["id"]: record for record in records} for name, records in tables.items()}


def first(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value[0] if isinstance(value, list) and value else None


def later_duplicates(records: list[AirtableRecord], key: Any) -> set[str]:
    """Ids of records whose key was already taken by an earlier-created record."""
    seen: set[Any] = set()
    found = set()
    for record in sorted(records, key=lambda record: (record["createdTime"], record["id"])):
        value = key(record["fields"])
        if value is None:
            continue
        if value in seen:
            found.add(record["id"])
        seen.add(value)
    return found


def is_real_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        return 1900 <= date.fromisoformat(text).year <= 2025
    except ValueError:
        return False


def is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def find_mess(tables: Tables) -> dict[str, set[str]]:
    index = by_id(tables)
    found: dict[str, set[str]] = {kind: set() for kind in MESS_KINDS}
    for name, records in tables.items():
        layout = V1_LAYOUT[name]
        for record in records:
            fields = record["fields"]
            if any(isinstance(value, dict) for value in fields.values()):
                found["formula_error"].add(record["id"])
            for field, spec in layout.fields.items():
                if isinstance(spec, Link) and any(
                    target not in index[spec.table] for target in fields.get(field, [])
                ):
                    found["dangling_link"].add(record["id"])

    users = tables["users"]
    found["user_missing_email"] = {u["id"] for u in users if "email" not in u["fields"]}
    found["user_missing_first_name"] = {u["id"] for u in users if "first_name" not in u["fields"]}
    found["email_case_duplicate"] = later_duplicates(
        users, lambda fields: fields["email"].strip().lower() if "email" in fields else None
    )
    found["invalid_dob"] = {
        u["id"] for u in users if "dob" in u["fields"] and not is_real_date(u["fields"]["dob"])
    }

    events = tables["events"]
    found["event_missing_name"] = {e["id"] for e in events if "name" not in e["fields"]}
    found["duplicate_event_slug"] = later_duplicates(events, lambda fields: fields.get("slug"))
    found["duplicate_event_join_code"] = later_duplicates(
        events, lambda fields: fields["join_code"].upper() if "join_code" in fields else None
    )
    found["invalid_feature_flag"] = {
        e["id"]
        for e in events
        if "feature_flags_csv" in e["fields"]
        and not all(
            FLAG_NAME.fullmatch(flag) for flag in e["fields"]["feature_flags_csv"].split(",")
        )
    }

    projects = tables["projects"]
    found["project_missing_name"] = {p["id"] for p in projects if "name" not in p["fields"]}
    found["negative_hours_spent"] = {
        p["id"] for p in projects if p["fields"].get("hours_spent", 0) < 0
    }
    found["invalid_quality_json"] = {
        p["id"]
        for p in projects
        if "cached_auto_quality" in p["fields"]
        and not is_json_object(p["fields"]["cached_auto_quality"])
    }
    found["points_mismatch"] = {
        p["id"]
        for p in projects
        if p["fields"].get("points", 0) != len(p["fields"].get("votes", []))
    }

    optional = (
        ("users", USER_OPTIONAL),
        ("events", EVENT_OPTIONAL),
        ("projects", PROJECT_OPTIONAL),
    )
    for name, fields_optional in optional:
        found["sparse_record"] |= {
            r["id"] for r in tables[name] if not set(fields_optional) & set(r["fields"])
        }

    # Relational vote checks, in order; a vote is reported for the first rule it breaks.
    pairs: set[tuple[str, str]] = set()
    for vote in sorted(tables["votes"], key=lambda v: (v["createdTime"], v["id"])):
        fields = vote["fields"]
        voter, project_id, event_id = (first(fields, n) for n in ("voter", "project", "event"))
        if voter is None or project_id is None or event_id is None:
            found["vote_missing_link"].add(vote["id"])
            continue
        if vote["id"] in found["dangling_link"]:
            continue
        if (voter, project_id) in pairs:
            found["duplicate_vote"].add(vote["id"])
            continue
        pairs.add((voter, project_id))
        project = index["projects"][project_id]["fields"]
        if first(project, "event") != event_id:
            found["vote_cross_event"].add(vote["id"])
        elif voter not in index["events"][event_id]["fields"].get("attendees", []):
            found["vote_by_non_attendee"].add(vote["id"])
        elif voter in project.get("owner", []) + project.get("collaborators", []):
            found["vote_for_own_project"].add(vote["id"])
    return found


def link_asymmetries(tables: Tables) -> list[str]:
    """Links to existing records whose other side does not link back (Airtable never has any)."""
    index = by_id(tables)
    problems = []
    for name, records in tables.items():
        for record in records:
            for field, spec in V1_LAYOUT[name].fields.items():
                if not isinstance(spec, Link) or spec.inverse is None:
                    continue
                for target_id in record["fields"].get(field, []):
                    target = index[spec.table].get(target_id)
                    if target is not None and record["id"] not in target["fields"].get(
                        spec.inverse, []
                    ):
                        problems.append(f"{name}/{record['id']}.{field} -> {target_id}")
    return problems


def stale_lookups(tables: Tables) -> list[str]:
    """Lookups (other than error values) that do not show what their links point at."""
    index = by_id(tables)
    problems = []
    for name, records in tables.items():
        layout = V1_LAYOUT[name]
        for record in records:
            for field, spec in layout.fields.items():
                if not isinstance(spec, Lookup):
                    continue
                value = record["fields"].get(field, [])
                if isinstance(value, dict):
                    continue
                via = layout.fields[spec.via]
                assert isinstance(via, Link)
                targets = index[via.table]

                def linked(
                    record_id: str, targets: dict[str, AirtableRecord] = targets
                ) -> dict[str, Any] | None:
                    target = targets.get(record_id)
                    return None if target is None else target["fields"]

                if value != lookup_value(spec, record["fields"], linked):
                    problems.append(f"{name}/{record['id']}.{field}")
    return problems


def votes_over_the_limit(tables: Tables) -> list[tuple[str, str]]:
    index = by_id(tables)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for vote in tables["votes"]:
        voter, event_id = first(vote["fields"], "voter"), first(vote["fields"], "event")
        if voter and event_id:
            counts[(voter, event_id)] += 1
    return [
        key
        for key, count in counts.items()
        if count > max_votes_per_user(len(index["events"][key[1]]["fields"].get("projects", [])))
    ]


def out_of_order(tables: Tables) -> list[str]:
    """Records created before a record they link to (a link needs both to exist)."""
    index = by_id(tables)
    created = {rid: r["createdTime"] for table in index.values() for rid, r in table.items()}
    checks = {
        "events": ("owner",),
        "projects": ("event", "owner", "collaborators"),
        "votes": ("voter", "project", "event"),
        "referrals": ("user", "event"),
    }
    return [
        f"{name}/{record['id']}.{field}"
        for name, fields in checks.items()
        for record in tables[name]
        for field in fields
        for target in record["fields"].get(field, [])
        if target in created and created[target] > record["createdTime"]
    ]


def assert_clean_rules(tables: Tables) -> None:
    """SPEC §1's rules, on what a clean base holds."""
    for user in tables["users"]:
        fields = user["fields"]
        assert fields["email"] == fields["email"].strip().lower()
        assert 1 <= len(fields["first_name"]) <= 50
    for event in tables["events"]:
        fields = event["fields"]
        assert re.fullmatch(r"[-a-z0-9]{1,50}", fields["slug"])
        assert fields["join_code"] == fields["join_code"].upper()
        assert len(fields.get("description", "")) <= 500
        assert len(fields["owner"]) == 1
    events = by_id(tables)["events"]
    for project in tables["projects"]:
        fields = project["fields"]
        event = events[fields["event"][0]]["fields"]
        assert "demo" in fields or event.get("demo_links_optional")
        assert fields.get("hours_spent", 0) >= 0


# -- the tests -------------------------------------------------------------------------------


def test_the_v1_layout_links_agree_with_themselves() -> None:
    check_layout(V1_LAYOUT)


@pytest.mark.parametrize("size", [700, 1_000, 2_345])
def test_the_record_count_is_exact(size: int) -> None:
    assert generate_base(size, seed=3).record_count == size
    assert generate_base(size, seed=3, mess=False).record_count == size


def test_a_seed_gives_the_same_base_and_another_seed_another() -> None:
    one, again, other = (generate_base(2_000, seed=seed) for seed in (5, 5, 6))
    assert one.tables == again.tables and one.manifest == again.manifest
    assert one.tables != other.tables


def test_records_look_like_the_airtable_api() -> None:
    base = generate_base(1_000, seed=2)
    all_ids = [record["id"] for records in base.tables.values() for record in records]
    assert len(all_ids) == len(set(all_ids))
    for name, records in base.tables.items():
        assert records == sorted(records, key=lambda r: (r["createdTime"], r["id"]))
        for record in records:
            assert set(record) == {"id", "createdTime", "fields"}
            assert RECORD_ID_RE.match(record["id"])
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdTime"])
            assert set(record["fields"]) <= set(V1_LAYOUT[name].fields)
            assert not any(is_empty(value) for value in record["fields"].values())


def test_a_clean_base_has_no_mess_at_all() -> None:
    base = generate_base(3_000, seed=11, mess=False)
    assert base.manifest.total == 0
    assert all(not ids for ids in find_mess(base.tables).values())
    assert link_asymmetries(base.tables) == []
    assert stale_lookups(base.tables) == []
    assert votes_over_the_limit(base.tables) == []
    assert out_of_order(base.tables) == []
    assert_clean_rules(base.tables)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(min_value=60, max_value=1_500), seed=st.integers(0, 10**6))
def test_any_clean_base_is_consistent(size: int, seed: int) -> None:
    base = generate_base(size, seed=seed, mess=False)
    assert base.record_count == size
    assert all(not ids for ids in find_mess(base.tables).values())
    assert link_asymmetries(base.tables) == [] and stale_lookups(base.tables) == []
    assert votes_over_the_limit(base.tables) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_manifest_lists_exactly_the_planted_mess(seed: int) -> None:
    base = generate_base(3_000, seed=seed)
    found = find_mess(base.tables)
    for kind in MESS_KINDS:
        assert found[kind] == set(base.manifest.records[kind]), kind


def test_every_kind_is_planted_at_its_default_count_on_distinct_records() -> None:
    base = generate_base(6_000, seed=4)
    events = len(base.tables["events"])
    assert base.manifest.counts() == default_mess_counts(6_000, events)
    assert all(count >= 2 for count in base.manifest.counts().values())
    planted = [rid for ids in base.manifest.records.values() for rid in ids]
    assert len(planted) == len(set(planted))
    assert set(base.manifest.descriptions) == set(MESS_KINDS)
    for rid in planted:
        assert base.manifest.kind_of(rid) is not None
        assert base.table_of(rid) in V1_LAYOUT


def test_mess_keeps_airtables_own_guarantees() -> None:
    """Even a messy base is one Airtable could hold: links agree on both sides (dangling ones
    have no other side), lookups show the links, nothing links to a record created later."""
    base = generate_base(3_000, seed=9)
    assert link_asymmetries(base.tables) == []
    assert stale_lookups(base.tables) == []
    assert votes_over_the_limit(base.tables) == []
    assert out_of_order(base.tables) == []


def test_planted_mess_has_the_promised_variety() -> None:
    kinds = ("dangling_link", "formula_error", "vote_missing_link", "sparse_record")
    counts = {kind: 6 for kind in kinds} | {"email_case_duplicate": 4, "invalid_dob": 6}
    base = generate_base(3_000, seed=1, mess=counts)
    index = {record["id"]: record for records in base.tables.values() for record in records}
    twins = [index[rid]["fields"]["email"] for rid in base.manifest.records["email_case_duplicate"]]
    assert any(email != email.strip() for email in twins)
    assert any(email.strip() != email.strip().lower() for email in twins)
    dangling_tables = {base.table_of(rid) for rid in base.manifest.records["dangling_link"]}
    assert dangling_tables == {"votes", "events", "projects", "referrals"}
    errors = [
        value
        for rid in base.manifest.records["formula_error"]
        for value in index[rid]["fields"].values()
        if isinstance(value, dict)
    ]
    assert {"error": "#ERROR!"} in errors and {"specialValue": "NaN"} in errors
    missing = [
        {"voter", "project", "event"} - set(index[rid]["fields"])
        for rid in base.manifest.records["vote_missing_link"]
    ]
    assert {"voter"} in missing and {"project"} in missing and {"event"} in missing
    sparse_tables = {base.table_of(rid) for rid in base.manifest.records["sparse_record"]}
    assert sparse_tables == {"users", "events", "projects"}
    assert "1990-13-45" in {
        index[rid]["fields"]["dob"] for rid in base.manifest.records["invalid_dob"]
    }


def test_explicit_counts_plant_exactly_those_kinds() -> None:
    base = generate_base(1_500, seed=8, mess={"duplicate_vote": 5, "points_mismatch": 3})
    assert base.manifest.counts() == {
        kind: {"duplicate_vote": 5, "points_mismatch": 3}.get(kind, 0) for kind in MESS_KINDS
    }
    found = find_mess(base.tables)
    assert {kind for kind, ids in found.items() if ids} == {"duplicate_vote", "points_mismatch"}
    assert base.record_count == 1_500


def test_unknown_kinds_and_impossible_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown mess kinds"):
        generate_base(1_000, mess={"cosmic_rays": 1})
    with pytest.raises(TooSmallForMess):
        generate_base(1_000, mess={"duplicate_event_slug": 500})
    with pytest.raises(ValueError):
        generate_base(10)


def test_sizes_are_realistic() -> None:
    base = generate_base(12_000, seed=1)
    sizes = {name: len(records) for name, records in base.tables.items()}
    assert sum(sizes.values()) == 12_000
    projects_per_event = [len(e["fields"].get("projects", [])) for e in base.tables["events"]]
    assert min(projects_per_event) >= 5 and max(projects_per_event) <= 300
    assert max(projects_per_event) >= 40  # a few big events, as real hackathon seasons have
    assert sizes["votes"] > sizes["projects"] > sizes["events"]
    assert sizes["users"] > sizes["projects"]
    returning = [
        u for u in base.tables["users"] if len(u["fields"].get("attending_events", [])) > 1
    ]
    assert len(returning) > sizes["users"] // 20
