"""GET /superadmin/export/projects.csv: several events' projects in one file, each row led by its
event's ID and name, cell for cell what each event's own export says."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.public_ids import public_id
from tests.api.conftest import assert_error, attend, eid, make_event, make_project
from tests.api.test_exports import PROJECT_COLUMNS, read_csv, vote
from tests.api.test_superadmin import superadmin
from tests.conftest import MakeUser, auth_headers

URL = "/superadmin/export/projects.csv"


async def test_rows_are_each_events_own_export_led_by_the_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada, bob = await make_user(), await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    first = await make_event(owner, name="First")
    second = await make_event(owner, name="=HYPERLINK(1)")  # a name a spreadsheet would run
    empty = await make_event(owner, name="Empty")
    for event in (first, second):
        await attend(event, ada, bob)
    one = await make_project(ada, first, "One")
    await make_project(bob, first, "Two")
    three = await make_project(ada, second, "Three")
    await vote(db, first, bob, one)
    await vote(db, second, bob, three)
    headers = auth_headers(admin)

    # The file's order is the order asked for: second, then first, then the empty event.
    response = await client.get(
        URL,
        params=[("event", eid(second)), ("event", eid(first)), ("event", eid(empty))],
        headers=headers,
    )
    rows = read_csv(response)
    assert list(rows[0]) == ["event_id", "event_name", *PROJECT_COLUMNS]
    assert [(row["event_id"], row["event_name"], row["name"]) for row in rows] == [
        (eid(second), "'=HYPERLINK(1)", "Three"),
        (eid(first), "First", "One"),
        (eid(first), "First", "Two"),
    ]
    for event in (first, second):
        own = read_csv(
            await client.get(f"/events/admin/{eid(event)}/export/projects.csv", headers=headers)
        )
        mine = [row for row in rows if row["event_id"] == eid(event)]
        assert [{k: v for k, v in row.items() if not k.startswith("event_")} for row in mine] == own
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="podium-projects-3-events-'
    )


async def test_an_event_named_twice_is_exported_once(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    await attend(event, owner)
    await make_project(owner, event)
    rows = read_csv(
        await client.get(
            URL, params=[("event", eid(event)), ("event", eid(event))], headers=auth_headers(admin)
        )
    )
    assert len(rows) == 1


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("event", "not-an-id")],
        [("event", public_id(Entity.PROJECT, 1))],
        [("event", public_id(Entity.EVENT, n)) for n in range(1, 52)],
    ],
    ids=["none", "malformed", "a project id", "51 events"],
)
async def test_a_bad_event_list_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, params: list[tuple[str, str]]
) -> None:
    admin = await superadmin(make_user, db)
    response = await client.get(URL, params=params, headers=auth_headers(admin))
    assert_error(response, 422, "validation_error")
    assert await db.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_an_unknown_event_is_404_and_nothing_is_exported_or_recorded(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    missing = public_id(Entity.EVENT, event.seq + 1000)
    response = await client.get(
        URL, params=[("event", eid(event)), ("event", missing)], headers=auth_headers(admin)
    )
    assert_error(response, 404, "not_found")
    assert missing in response.json()["error"]["message"]
    assert await db.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_fifty_events_are_allowed(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    events = [await make_event(owner, name=f"E{n}") for n in range(50)]
    response = await client.get(
        URL, params=[("event", eid(event)) for event in events], headers=auth_headers(admin)
    )
    assert read_csv(response) == []
    assert await db.fetchval("SELECT count(*) FROM audit_events") == 50
