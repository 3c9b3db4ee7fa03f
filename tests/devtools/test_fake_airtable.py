"""The fake Airtable, driven over real HTTP by the real pyairtable client (no mocks)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pyairtable import Api, retry_strategy
from pyairtable.formulas import OR, RECORD_ID, to_formula_str

from podium_devtools.airtable_base import GeneratedBase, generate_base
from podium_devtools.airtable_layout import V1_LAYOUT, format_time
from podium_devtools.fake_airtable import RATE_LIMIT_BODY, FakeAirtable

TOKEN = "test-token"
BASE = generate_base(1_500, seed=7)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAirtable]:
    with FakeAirtable(token=TOKEN, rate_limit=None) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAirtable) -> FakeAirtable:
    """The shared server, reloaded with BASE and back to default settings."""
    server.load(BASE.tables)
    server.reset()
    server.rate_limit = None
    server.rate_limit_window = 1.0
    server.rate_limit_penalty = 0.0
    server.pace = None
    server.offset_max_pages = None
    server.offset_ttl = None
    return server


def make_api(fake: FakeAirtable, **kwargs: Any) -> Iterator[Api]:
    api = Api(TOKEN, endpoint_url=fake.url, **kwargs)
    try:
        yield api
    finally:
        api.session.close()


@pytest.fixture
def api(fake: FakeAirtable) -> Iterator[Api]:
    """A client that never retries, so every answer reaches the test."""
    yield from make_api(fake, retry_strategy=None)


@pytest.fixture
def retrying_api(fake: FakeAirtable) -> Iterator[Api]:
    """pyairtable's default client: retries 429 five times with a short backoff."""
    yield from make_api(fake)


def raw(fake: FakeAirtable, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {"Authorization": f"Bearer {TOKEN}"})
    with requests.Session() as session:
        return session.request(method, f"{fake.url}/v0/{path}", headers=headers, **kwargs)


def ids(records: list[Any]) -> list[str]:
    return [record["id"] for record in records]


# -- listing ---------------------------------------------------------------------------------


def test_listing_pages_through_every_record_exactly_once(fake: FakeAirtable, api: Api) -> None:
    table = api.table(fake.base_id, "users")
    pages = list(table.iterate(page_size=7))
    listed = [record for page in pages for record in page]
    assert ids(listed) == ids(BASE.tables["users"])
    assert listed == BASE.tables["users"]
    assert all(len(page) == 7 for page in pages[:-1])
    assert len(fake.requests) == len(pages)
    assert [request.carries_offset for request in fake.requests] == [False] + [True] * (
        len(pages) - 1
    )


def test_every_generated_table_lists_back_as_generated(fake: FakeAirtable, api: Api) -> None:
    for name, records in BASE.tables.items():
        assert api.table(fake.base_id, name).all() == records


def test_a_listing_is_a_snapshot_while_records_change(fake: FakeAirtable, api: Api) -> None:
    table = api.table(fake.base_id, "events")
    pages = table.iterate(page_size=5)
    first = next(pages)
    later_id = BASE.tables["events"][-1]["id"]
    fake.delete_record("events", later_id)
    created = fake.add_record("events", {"name": "Added mid-listing"})
    rest = [record for page in pages for record in page]
    seen = ids(first) + ids(rest)
    assert len(seen) == len(set(seen))
    assert later_id not in seen and created["id"] not in seen
    assert set(seen) == {record["id"] for record in BASE.tables["events"]} - {later_id}


def test_empty_values_are_absent_and_zero_is_a_value(fake: FakeAirtable, api: Api) -> None:
    project = BASE.tables["projects"][0]["fields"]
    created = api.table(fake.base_id, "projects").create(
        {
            "name": "Zero",
            "description": "",
            "hours_spent": 0,
            "image_url": None,
            "collaborators": [],
            "event": project["event"],
        }
    )
    assert created["fields"]["hours_spent"] == 0
    assert not {"description", "image_url", "collaborators"} & set(created["fields"])
    event = api.table(fake.base_id, "events").create({"name": "Flags", "votable": False})
    assert "votable" not in event["fields"]


def test_fields_max_records_sort_and_view(fake: FakeAirtable, api: Api) -> None:
    table = api.table(fake.base_id, "projects")
    records = table.all(fields=["name", "hours_spent"], max_records=12, page_size=5)
    assert len(records) == 12
    assert all(set(record["fields"]) <= {"name", "hours_spent"} for record in records)
    by_hours = table.all(sort=["-hours_spent", "name"], fields=["hours_spent", "name"])
    hours = [record["fields"].get("hours_spent", -(10**9)) for record in by_hours]
    assert hours == sorted(hours, reverse=True)
    assert len(table.all(view="Grid view")) == len(BASE.tables["projects"])
    with pytest.raises(requests.HTTPError, match="VIEW_NAME_NOT_FOUND"):
        table.all(view="Leaderboard")
    with pytest.raises(requests.HTTPError, match="UNKNOWN_FIELD_NAME"):
        table.all(fields=["no_such_field"])


def test_tables_answer_to_their_id_or_name(fake: FakeAirtable, api: Api) -> None:
    by_id = api.table(fake.base_id, fake.table_ids["votes"]).all()
    assert by_id == api.table(fake.base_id, "votes").all()
    assert api.table(fake.base_id, "votes").id == fake.table_ids["votes"]  # via the schema API


def test_schema_endpoint_describes_the_v1_layout(fake: FakeAirtable, api: Api) -> None:
    schema = api.base(fake.base_id).schema()
    assert [table.name for table in schema.tables] == list(V1_LAYOUT)
    event_link = schema.table("projects").field("event")
    assert event_link.type == "multipleRecordLinks"
    assert api.whoami()["id"].startswith("usr")


def test_record_metadata_and_field_ids(fake: FakeAirtable, api: Api) -> None:
    table = api.table(fake.base_id, "events")
    record = table.first(count_comments=True, use_field_ids=True)
    assert record is not None
    assert record["commentCount"] == 0  # type: ignore[typeddict-item]
    assert all(key.startswith("fld") for key in record["fields"])


# -- filterByFormula -------------------------------------------------------------------------


def test_delta_filters_find_what_changed_since_a_time(fake: FakeAirtable, api: Api) -> None:
    since = fake.clock.now()
    fake.clock.advance(timedelta(minutes=5))
    changed = BASE.tables["users"][3]["id"]
    fake.update_record("users", changed, {"city": "Lisbon"})
    added = fake.add_record("users", {"email": "new@example.com", "first_name": "New"})
    old_created = fake.add_record(
        "users", {"email": "late@example.com"}, created_time=since - timedelta(days=400)
    )
    stamp = format_time(since)
    users = api.table(fake.base_id, "users")

    modified = users.all(formula=f"IS_AFTER(LAST_MODIFIED_TIME(), '{stamp}')")
    assert set(ids(modified)) == {changed, added["id"], old_created["id"]}
    created = users.all(formula=f"IS_AFTER(CREATED_TIME(), DATETIME_PARSE('{stamp}'))")
    assert ids(created) == [added["id"]]
    either = users.all(
        formula=f"OR(IS_AFTER(CREATED_TIME(), '{stamp}'), IS_AFTER(LAST_MODIFIED_TIME(), '{stamp}'))"
    )
    assert set(ids(either)) == set(ids(modified))
    both = users.all(
        formula=f"AND(IS_AFTER(LAST_MODIFIED_TIME(), '{stamp}'), NOT(IS_AFTER(CREATED_TIME(), '{stamp}')))"
    )
    assert set(ids(both)) == {changed, old_created["id"]}
    assert users.all(formula=f"LAST_MODIFIED_TIME() > '{stamp}'") == modified


def test_writes_move_the_other_side_of_a_link_too(fake: FakeAirtable, api: Api) -> None:
    since = fake.clock.now()
    vote = BASE.tables["votes"][0]
    voter = vote["fields"]["voter"][0]
    api.table(fake.base_id, "votes").delete(vote["id"])
    formula = f"IS_AFTER(LAST_MODIFIED_TIME(), '{format_time(since)}')"
    assert ids(api.table(fake.base_id, "users").all(formula=formula)) == [voter]
    assert api.table(fake.base_id, "events").all(formula=formula) == []  # votes.event is one-way


def test_record_id_filters_including_long_ones_sent_by_post(fake: FakeAirtable, api: Api) -> None:
    table = api.table(fake.base_id, "votes")
    wanted = ids(BASE.tables["votes"][:3])
    short = table.all(formula=OR(*(RECORD_ID().eq(record_id) for record_id in wanted)))
    assert ids(short) == wanted
    assert ids(table.all(formula=f"RECORD_ID()='{wanted[1]}'")) == [wanted[1]]

    many = ids(BASE.tables["votes"][:700])
    formula = to_formula_str(OR(*(RECORD_ID().eq(record_id) for record_id in many)))
    assert len(formula) > 16_000  # pyairtable moves it into a POST body
    fake.reset_log()
    assert ids(table.all(formula=formula)) == many
    assert {request.method for request in fake.requests} == {"POST"}
    assert all(request.path.endswith("/listRecords") for request in fake.requests)
    assert len(fake.requests) == 7  # pages of 100, offsets in the body


@pytest.mark.parametrize(
    "formula",
    [
        "SEARCH('a', {name})",
        "IS_AFTER(LAST_MODIFIED_TIME({name}), '2024-01-01')",
        "DATETIME_PARSE('1/2/2024', 'M/D/YYYY')",
        "{no such field}='x'",
        "AND(RECORD_ID()='rec1'",
        "RECORD_ID()=",
    ],
)
def test_formulas_outside_the_subset_are_refused(
    fake: FakeAirtable, api: Api, formula: str
) -> None:
    with pytest.raises(requests.HTTPError) as caught:
        api.table(fake.base_id, "projects").all(formula=formula)
    response = caught.value.response
    assert response is not None and response.status_code == 422
    assert response.json()["error"]["type"] == "INVALID_FILTER_BY_FORMULA"


# -- writes ----------------------------------------------------------------------------------


def test_create_update_delete_round_trip_keeps_both_sides_of_links(
    fake: FakeAirtable, api: Api
) -> None:
    votes, projects, users = (
        api.table(fake.base_id, name) for name in ("votes", "projects", "users")
    )
    project = BASE.tables["projects"][5]
    other_project = BASE.tables["projects"][6]
    event_id = project["fields"]["event"][0]
    voter_id = BASE.tables["users"][-1]["id"]

    vote = votes.create({"voter": [voter_id], "project": [project["id"]], "event": [event_id]})
    assert vote["id"].startswith("rec") and len(vote["id"]) == 17
    assert vote["fields"]["project_id"] == [project["id"]]  # lookups follow links
    assert vote["id"] in users.get(voter_id)["fields"]["votes"]
    assert vote["id"] in projects.get(project["id"])["fields"]["votes"]

    moved = votes.update(vote["id"], {"project": [other_project["id"]]})
    assert moved["fields"]["project_id"] == [other_project["id"]]
    assert vote["id"] not in projects.get(project["id"])["fields"].get("votes", [])
    assert vote["id"] in projects.get(other_project["id"])["fields"]["votes"]

    assert votes.delete(vote["id"]) == {"id": vote["id"], "deleted": True}
    assert vote["id"] not in users.get(voter_id)["fields"].get("votes", [])
    assert vote["id"] not in projects.get(other_project["id"])["fields"].get("votes", [])
    with pytest.raises(requests.HTTPError, match="404"):
        votes.get(vote["id"])


def test_lookups_follow_the_records_they_show(fake: FakeAirtable, api: Api) -> None:
    project = next(p for p in BASE.tables["projects"] if "owner_display_name" in p["fields"])
    owner_id = project["fields"]["owner"][0]
    api.table(fake.base_id, "users").update(owner_id, {"display_name": "Renamed R."})
    fetched = api.table(fake.base_id, "projects").get(project["id"])
    assert fetched["fields"]["owner_display_name"] == ["Renamed R."]


def test_batches_are_at_most_ten_and_all_or_nothing(fake: FakeAirtable, api: Api) -> None:
    users = api.table(fake.base_id, "users")
    created = users.batch_create([{"email": f"b{n}@example.com"} for n in range(25)])
    assert len(created) == 25
    assert [request.status for request in fake.requests] == [200, 200, 200]

    eleven = {"records": [{"fields": {"email": f"c{n}@example.com"}} for n in range(11)]}
    assert raw(fake, "POST", f"{fake.base_id}/users", json=eleven).status_code == 422

    before = len(fake.tables["users"])
    bad = [{"email": "ok@example.com"}, {"email": "x", "votes": ["recDoesNotExist00"]}]
    with pytest.raises(requests.HTTPError, match="ROW_DOES_NOT_EXIST"):
        users.batch_create(bad)
    assert len(fake.tables["users"]) == before

    updated = users.batch_update([{"id": r["id"], "fields": {"city": "Oslo"}} for r in created])
    assert {record["fields"]["city"] for record in updated} == {"Oslo"}
    deleted = users.batch_delete(ids(created))
    assert len(deleted) == 25 and all(item["deleted"] for item in deleted)
    assert len(fake.tables["users"]) == before - 25


def test_put_replaces_every_field_it_does_not_name(fake: FakeAirtable, api: Api) -> None:
    user = next(u for u in BASE.tables["users"] if "phone" in u["fields"])
    replaced = api.table(fake.base_id, "users").update(
        user["id"], {"email": "only@example.com"}, replace=True
    )
    assert replaced["fields"] == {"email": "only@example.com"}  # links went too
    for event_id in user["fields"].get("attending_events", []):
        event = api.table(fake.base_id, "events").get(event_id)
        assert user["id"] not in event["fields"].get("attendees", [])


def test_upsert_updates_matches_and_creates_the_rest(fake: FakeAirtable, api: Api) -> None:
    events = api.table(fake.base_id, "events")
    existing = BASE.tables["events"][0]
    result = events.batch_upsert(
        [
            {"fields": {"join_code": existing["fields"]["join_code"], "description": "Updated"}},
            {"fields": {"join_code": "NEW123", "name": "Brand new"}},
        ],
        key_fields=["join_code"],
    )
    assert result["updatedRecords"] == [existing["id"]]
    assert len(result["createdRecords"]) == 1
    assert events.get(existing["id"])["fields"]["description"] == "Updated"


def test_typecast_and_type_checks(fake: FakeAirtable, api: Api) -> None:
    projects = api.table(fake.base_id, "projects")
    with pytest.raises(requests.HTTPError, match="INVALID_VALUE_FOR_COLUMN"):
        projects.create({"name": "Hours", "hours_spent": "12"})
    assert (
        projects.create({"name": "Hours", "hours_spent": "12"}, typecast=True)["fields"][
            "hours_spent"
        ]
        == 12
    )
    with pytest.raises(requests.HTTPError, match="computed"):
        projects.create({"name": "Lookup", "event_id": ["recXXXXXXXXXXXXXX"]})
    with pytest.raises(requests.HTTPError, match="UNKNOWN_FIELD_NAME"):
        projects.create({"title": "No such field"})


# -- auth, addressing ------------------------------------------------------------------------


def test_a_wrong_token_is_401_authentication_required(fake: FakeAirtable) -> None:
    wrong = raw(fake, "GET", f"{fake.base_id}/users", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    assert raw(fake, "GET", f"{fake.base_id}/users", headers={}).status_code == 401


def test_unknown_base_table_or_record_is_404(fake: FakeAirtable) -> None:
    assert raw(fake, "GET", "appNoSuchBase0000/users").status_code == 404
    missing_table = raw(fake, "GET", f"{fake.base_id}/judges")
    assert missing_table.status_code == 404
    assert missing_table.json()["error"]["type"] == "TABLE_NOT_FOUND"
    missing_record = raw(fake, "GET", f"{fake.base_id}/users/recNoSuchRecord00")
    assert missing_record.json()["error"]["type"] == "MODEL_ID_NOT_FOUND"
    assert raw(fake, "GET", "nothing/here/at/all/really").status_code == 404


# -- throttling ------------------------------------------------------------------------------


def test_requests_above_the_rate_get_airtables_429(fake: FakeAirtable, api: Api) -> None:
    fake.rate_limit, fake.rate_limit_window = 10, 0.2  # 2 requests per 0.2 s window
    statuses = [raw(fake, "GET", f"{fake.base_id}/events?pageSize=1") for _ in range(5)]
    assert [response.status_code for response in statuses] == [200, 200, 429, 429, 429]
    assert statuses[-1].json() == RATE_LIMIT_BODY
    assert "retry-after" not in statuses[-1].headers
    assert fake.rate_limited == 3
    time.sleep(0.25)
    assert raw(fake, "GET", f"{fake.base_id}/events?pageSize=1").status_code == 200


def test_pyairtables_retry_survives_the_rate_limit(fake: FakeAirtable, retrying_api: Api) -> None:
    fake.rate_limit, fake.rate_limit_window = 20, 0.1  # 2 per 0.1 s: pyairtable outruns it
    records = retrying_api.table(fake.base_id, "referrals").all(page_size=20)
    assert ids(records) == ids(BASE.tables["referrals"])
    assert fake.rate_limited > 0


def test_a_penalty_refuses_everything_for_a_while(fake: FakeAirtable) -> None:
    fake.rate_limit, fake.rate_limit_window, fake.rate_limit_penalty = 10, 0.1, 0.3
    path = f"{fake.base_id}/events?pageSize=1"
    assert [raw(fake, "GET", path).status_code for _ in range(2)] == [200, 429]
    time.sleep(0.15)  # the window has passed, the penalty has not
    assert raw(fake, "GET", path).status_code == 429
    time.sleep(0.3)
    assert raw(fake, "GET", path).status_code == 200


def test_pace_delays_instead_of_refusing(fake: FakeAirtable, api: Api) -> None:
    fake.pace = 40
    started = time.monotonic()
    records = api.table(fake.base_id, "events").all(page_size=3)
    elapsed = time.monotonic() - started
    pages = len(fake.requests)
    assert ids(records) == ids(BASE.tables["events"])
    assert fake.rate_limited == 0
    assert elapsed >= (pages - 1) / 40 * 0.9


# -- injected faults -------------------------------------------------------------------------


def test_injected_server_errors_hit_the_next_requests_only(fake: FakeAirtable, api: Api) -> None:
    fake.fail_next(2, status=503, table="users")
    events = api.table(fake.base_id, "events")
    users = api.table(fake.base_id, "users")
    assert events.first() is not None  # another table is not affected
    for _ in range(2):
        with pytest.raises(requests.HTTPError, match="503"):
            users.first()
    assert users.first() is not None
    assert fake.pending_faults == 0

    fake.fail_next(status=502)
    gateway = raw(fake, "GET", f"{fake.base_id}/users")
    assert gateway.status_code == 502
    assert gateway.headers["content-type"].startswith("text/html")
    fake.fail_next(status=500, method="POST")
    assert raw(fake, "GET", f"{fake.base_id}/users?pageSize=1").status_code == 200
    assert raw(fake, "POST", f"{fake.base_id}/users", json={"fields": {}}).status_code == 500


def test_a_client_retrying_5xx_gets_through(fake: FakeAirtable) -> None:
    fake.fail_next(3, status=502)
    retry = retry_strategy(status_forcelist=(429, 500, 502, 503, 504), backoff_factor=0.01)
    for api in make_api(fake, retry_strategy=retry):
        assert len(api.table(fake.base_id, "events").all()) == len(BASE.tables["events"])
    assert fake.status_counts[502] == 3


def test_injected_429s_are_retried_by_pyairtable(fake: FakeAirtable, retrying_api: Api) -> None:
    fake.rate_limit_next(3)
    assert retrying_api.table(fake.base_id, "events").first() is not None
    assert [request.status for request in fake.requests] == [429, 429, 429, 200]


def test_an_expired_listing_must_be_restarted(fake: FakeAirtable, api: Api) -> None:
    fake.expire_next_offsets(1, table="users")
    table = api.table(fake.base_id, "users")
    assert table.first() is not None  # no offset: not affected
    pages = table.iterate(page_size=100)
    next(pages)
    with pytest.raises(requests.HTTPError) as caught:
        next(pages)
    response = caught.value.response
    assert response is not None and response.status_code == 422
    assert response.json() == {"error": {"type": "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"}}
    offset = response.request.url.split("offset=")[1] if response.request.url else ""
    again = raw(fake, "GET", f"{fake.base_id}/users?offset={offset}")
    assert again.status_code == 422  # the listing is gone, not just one answer
    assert len(table.all()) == len(BASE.tables["users"])  # a restart works


def test_listings_expire_after_a_number_of_pages_or_idle_time(fake: FakeAirtable, api: Api) -> None:
    fake.offset_max_pages = 3
    table = api.table(fake.base_id, "votes")
    pages = table.iterate(page_size=10)
    for _ in range(3):
        next(pages)
    with pytest.raises(requests.HTTPError, match="422"):
        next(pages)

    fake.offset_max_pages, fake.offset_ttl = None, 0.05
    pages = table.iterate(page_size=10)
    next(pages)
    time.sleep(0.1)
    with pytest.raises(requests.HTTPError, match="422"):
        next(pages)


def test_a_malformed_offset_is_invalid(fake: FakeAirtable) -> None:
    answer = raw(fake, "GET", f"{fake.base_id}/users?offset=garbage")
    assert answer.status_code == 422
    assert answer.json()["error"]["type"] == "INVALID_OFFSET_VALUE"


def test_resuming_by_created_time_gets_past_short_lived_listings(
    fake: FakeAirtable, api: Api
) -> None:
    """The way out when listings die faster than a table can be read: resume from the last
    createdTime seen (inclusive, deduplicating by id), not from the start."""
    fake.offset_max_pages = 2
    table = api.table(fake.base_id, "votes")
    seen: dict[str, Any] = {}
    cursor: str | None = None
    restarts = 0
    while True:
        formula = f"NOT(IS_BEFORE(CREATED_TIME(), '{cursor}'))" if cursor else None
        try:
            for page in table.iterate(page_size=100, formula=formula):
                seen.update((record["id"], record) for record in page)
                cursor = page[-1]["createdTime"]
            break
        except requests.HTTPError:
            restarts += 1
    assert list(seen.values()) == BASE.tables["votes"]
    assert restarts == len(BASE.tables["votes"]) // 200


# -- introspection, helpers, lifecycle -------------------------------------------------------


def test_the_request_log_records_what_was_asked(fake: FakeAirtable, api: Api) -> None:
    api.table(fake.base_id, "users").all(page_size=50, fields=["email"], max_records=60)
    first, second = fake.requests
    assert (first.method, first.path, first.table, first.status) == (
        "GET",
        f"/v0/{fake.base_id}/users",
        "users",
        200,
    )
    assert first.params["fields[]"] == ["email"] and first.params["pageSize"] == ["50"]
    assert "offset" in second.params and second.at >= first.at
    assert fake.status_counts == {200: 2}


def test_helpers_write_like_a_user_and_advance_last_modified(fake: FakeAirtable) -> None:
    user = BASE.tables["users"][0]["id"]
    before = fake.last_modified("users", user)
    event = fake.add_record(
        "events", {"name": "Helper Hack", "owner": [user]}, created_time=datetime(2024, 1, 1)
    )
    assert event["createdTime"] == "2024-01-01T00:00:00.000Z"
    assert fake.last_modified("users", user) > before
    owned = fake.get_record("users", user)
    assert owned is not None and event["id"] in owned["fields"]["owned_events"]
    updated = fake.update_record("events", event["id"], {"votable": True})
    assert updated["fields"]["owner_id"] == [user]
    fake.delete_record("events", event["id"])
    assert fake.get_record("events", event["id"]) is None
    owned = fake.get_record("users", user)
    assert owned is not None and event["id"] not in owned["fields"].get("owned_events", [])


def test_the_clock_is_controllable(fake: FakeAirtable) -> None:
    fake.clock.set(datetime(2030, 1, 1, tzinfo=UTC))
    created = fake.add_record("users", {"email": "future@example.com"})
    assert created["createdTime"] == "2030-01-01T00:00:00.001Z"
    assert fake.clock.advance(60) == datetime(2030, 1, 1, 0, 1, 0, 1000, tzinfo=UTC)


def test_planted_mess_is_served_as_generated(fake: FakeAirtable, api: Api) -> None:
    broken = BASE.manifest.records["formula_error"]
    served = {
        record["id"]: record
        for name in ("projects", "votes", "events", "referrals")
        for record in api.table(fake.base_id, name).all()
    }
    for record_id in broken:
        assert any(isinstance(value, dict) for value in served[record_id]["fields"].values())


def test_many_concurrent_clients_each_get_every_record(fake: FakeAirtable) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for api in make_api(fake, retry_strategy=None):
                results.append(ids(api.table(fake.base_id, "votes").all(page_size=50)))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == [ids(BASE.tables["votes"])] * 8


def test_a_fake_starts_and_stops_cleanly_on_its_own_port() -> None:
    small: GeneratedBase = generate_base(200, seed=1, mess=False)
    with FakeAirtable(small.tables, token="other") as other:
        answer = requests.get(
            f"{other.url}/v0/{other.base_id}/events", headers={"Authorization": "Bearer other"}
        )
        assert answer.status_code == 200
        assert len(answer.json()["records"]) == len(small.tables["events"])
        url = other.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=1)
    with pytest.raises(RuntimeError):
        _ = other.url


def test_env_points_the_migration_tools_at_the_fake(fake: FakeAirtable) -> None:
    env = fake.env()
    assert env["AIRTABLE_API_URL"] == fake.url
    assert env["AIRTABLE_TOKEN"] == TOKEN
    assert env["AIRTABLE_USERS_TABLE"] == "users"
    assert fake.env(use_table_ids=True)["AIRTABLE_VOTES_TABLE"] == fake.table_ids["votes"]
    assert json.dumps(env)  # plain strings only


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_cli_serves_a_generated_base_and_prints_its_environment(stop_signal: int) -> None:
    command = [sys.executable, "-m", "podium_devtools.fake_airtable", "--records", "1000"]
    command += ["--port", "0", "--token", "dev", "--rate-limit", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            env: dict[str, str] = {}
            for line in process.stdout:
                if line.startswith("export "):
                    name, _, value = line.removeprefix("export ").strip().partition("=")
                    env[name] = value
                if line.startswith("# Ctrl-C"):
                    break
            for api in make_api_at(env["AIRTABLE_API_URL"], env["AIRTABLE_TOKEN"]):
                table = api.table(env["AIRTABLE_BASE_ID"], env["AIRTABLE_USERS_TABLE"])
                assert table.all()
        finally:
            process.send_signal(stop_signal)
            assert process.wait(timeout=10) == 0
            assert process.stdout is not None
            process.stdout.close()


def make_api_at(url: str, token: str) -> Iterator[Api]:
    api = Api(token, endpoint_url=url)
    try:
        yield api
    finally:
        api.session.close()
