"""/events: create, list, read, resolve a slug, update, delete — with the permission matrix."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.models import User
from podium.public_ids import public_id
from podium.services import join_codes
from tests.api.conftest import error_code, joined
from tests.conftest import MakeUser, auth_headers

JOIN_CODE = re.compile(r"^[A-HJKMNP-Z2-9]{6}$")


async def create(client: httpx.AsyncClient, owner: User, **fields: Any) -> httpx.Response:
    fields.setdefault("name", "Hack Night")
    return await client.post("/events/", json=fields, headers=auth_headers(owner))


async def created(client: httpx.AsyncClient, owner: User, **fields: Any) -> dict[str, Any]:
    response = await create(client, owner, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- create -------------------------------------------------------------------------------


async def test_create_event_returns_the_owners_view(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    body = await created(
        client,
        owner,
        name="  Hack Night  ",
        description="Build things",
        votable=True,
        feature_flags=["beta", "dark_mode"],
    )
    assert body["name"] == "Hack Night"
    assert body["slug"] == "hack-night"
    assert body["description"] == "Build things"
    assert body["votable"] is True
    assert body["leaderboard_enabled"] is False
    assert body["demo_links_optional"] is False
    assert body["ysws_checks_enabled"] is False
    assert body["feature_flags"] == ["beta", "dark_mode"]
    assert body["owner_id"] == public_id(Entity.USER, owner.seq)
    assert JOIN_CODE.match(body["join_code"])
    assert body["attendee_count"] == 0
    assert body["max_votes_per_user"] == 1
    assert (await client.get(f"/events/{body['id']}")).json()["name"] == "Hack Night"


async def test_creating_an_event_does_not_make_the_owner_attend(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    await created(client, owner)
    mine = (await client.get("/events/", headers=auth_headers(owner))).json()
    assert len(mine["owned_events"]) == 1
    assert mine["attending_events"] == []


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Hack Club: Día 1!", "hack-club-dia-1"),
        ("--Weird__Name--", "weird-name"),
        ("A   B", "a-b"),
        ("Ünïcödé Straße 42", "unicode-strae-42"),
        ("x" * 49 + " yz", "x" * 49),
        ("Émoji 🎉 party", "emoji-party"),
    ],
)
async def test_slug_is_derived_from_the_name(
    client: httpx.AsyncClient, make_user: MakeUser, name: str, slug: str
) -> None:
    body = await created(client, await make_user(), name=name)
    assert body["slug"] == slug


@pytest.mark.parametrize("name", ["!!!", "🎉🎉", "—", "漢字"])
async def test_name_without_letters_or_digits_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, name: str
) -> None:
    response = await create(client, await make_user(), name=name)
    assert response.status_code == 422
    assert error_code(response) == "name_without_slug"
    assert "letter or digit" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": None},
        {"description": "x" * 501},
        {"feature_flags": ["has-dash"]},
        {"feature_flags": [""]},
        {"feature_flags": "beta"},
        {"feature_flags": [f"flag{n}" for n in range(51)]},
        {"votable": "maybe"},
    ],
)
async def test_invalid_event_fields_are_422(
    client: httpx.AsyncClient, make_user: MakeUser, fields: dict[str, Any]
) -> None:
    response = await create(client, await make_user(), **fields)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_create_without_body_is_422(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    response = await client.post("/events/", headers=auth_headers(await make_user()))
    assert response.status_code == 422


async def test_feature_flags_are_deduplicated_in_order(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    body = await created(client, await make_user(), feature_flags=["b", "a", "b", "a", "c"])
    assert body["feature_flags"] == ["b", "a", "c"]


async def test_description_null_means_empty(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    body = await created(client, await make_user(), description=None)
    assert body["description"] == ""


async def test_taken_slug_is_409(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    await created(client, await make_user(), name="Hack Night")
    response = await create(client, await make_user(), name="hack  night!")
    assert response.status_code == 409
    assert error_code(response) == "slug_taken"
    assert "hack-night" in response.json()["error"]["message"]


async def test_simultaneous_creates_with_one_name_give_one_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owners = [await make_user() for _ in range(5)]
    responses = await asyncio.gather(*(create(client, owner, name="Same Name") for owner in owners))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    assert await db.fetchval("SELECT count(*) FROM events") == 1


async def test_clashing_join_code_is_retried_with_a_fresh_one(
    client: httpx.AsyncClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await created(client, await make_user(), name="First")
    codes = iter([first["join_code"], first["join_code"], "FRESH2"])
    monkeypatch.setattr(join_codes, "new_join_code", lambda: next(codes))

    second = await created(client, await make_user(), name="Second")

    assert second["join_code"] == "FRESH2"


async def test_create_event_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/events/", json={"name": "Hack"})
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


# --- list, read, slug ---------------------------------------------------------------------


async def test_list_shows_owned_events_privately_and_attended_events_publicly(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    me, other = await make_user(), await make_user()
    mine = await created(client, me, name="Mine")
    theirs = await created(client, other, name="Theirs")
    await created(client, other, name="Not Joined")
    await joined(client, me, theirs["join_code"])

    response = await client.get("/events/", headers=auth_headers(me))

    assert response.status_code == 200
    body = response.json()
    assert [e["id"] for e in body["owned_events"]] == [mine["id"]]
    assert body["owned_events"][0]["join_code"] == mine["join_code"]
    assert [e["id"] for e in body["attending_events"]] == [theirs["id"]]
    assert "join_code" not in body["attending_events"][0]
    assert "attendee_count" not in body["attending_events"][0]


async def test_list_events_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/events/")).status_code == 401


async def test_event_public_view_needs_no_token_and_hides_the_join_code(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await created(client, owner, name="Open", leaderboard_enabled=True)

    response = await client.get(f"/events/{event['id']}")

    assert response.status_code == 200
    assert response.json() == {
        "id": event["id"],
        "name": "Open",
        "slug": "open",
        "description": "",
        # #16: the public view gains the phase fields (public, like the v1 booleans they drive).
        "phase": "submission",
        "live_leaderboard": True,
        "submissions_open_during_voting": True,
        "votable": False,
        "leaderboard_enabled": True,
        "demo_links_optional": False,
        "ysws_checks_enabled": False,
        "feature_flags": [],
        "owner_id": public_id(Entity.USER, owner.seq),
    }


@pytest.mark.parametrize("event_id", ["nope", "x" * 500, "%00", "rec00000000000000"])
async def test_unknown_event_is_404(client: httpx.AsyncClient, event_id: str) -> None:
    assert (await client.get(f"/events/{event_id}")).status_code == 404


async def test_event_id_of_another_type_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    await created(client, owner)
    response = await client.get(f"/events/{public_id(Entity.USER, owner.seq)}")
    assert response.status_code == 404


async def test_slug_resolves_to_the_event_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await created(client, await make_user(), name="Spring Jam")
    response = await client.get("/events/id/spring-jam")
    assert response.status_code == 200
    assert response.json() == {"id": event["id"]}


@pytest.mark.parametrize("slug", ["no-such-event", "Spring-Jam", "x" * 300])
async def test_unknown_slug_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, slug: str
) -> None:
    await created(client, await make_user(), name="Spring Jam")
    assert (await client.get(f"/events/id/{slug}")).status_code == 404


async def test_owners_view_counts_attendees_and_sizes_votes_by_projects(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await created(client, owner)
    for _ in range(3):
        await joined(client, await make_user(), event["join_code"])
    event_uuid = await db.fetchval("SELECT id FROM events")
    owner_view = f"/events/admin/{event['id']}"
    headers = auth_headers(owner)
    for total, votes in ((3, 1), (4, 2), (19, 2), (20, 3)):
        await db.execute(
            "INSERT INTO projects (name, join_code, owner_id, event_id) "
            "SELECT 'P', 'P' || lpad(n::text, 5, '0'), $1, $2 "
            "FROM generate_series((SELECT count(*) FROM projects) + 1, $3) n",
            owner.pk,
            event_uuid,
            total,
        )
        body = (await client.get(owner_view, headers=headers)).json()
        assert (body["attendee_count"], body["max_votes_per_user"]) == (3, votes)


# --- update and delete: owner only ---------------------------------------------------------


async def test_owner_updates_only_the_fields_given_and_the_slug_stays(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await created(client, owner, name="Old", feature_flags=["keep"], votable=False)

    response = await client.put(
        f"/events/{event['id']}",
        json={"name": "New Name", "votable": True, "description": "now with food"},
        headers=auth_headers(owner),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["slug"], body["votable"]) == ("New Name", "old", True)
    assert body["description"] == "now with food"
    assert body["feature_flags"] == ["keep"]
    assert body["join_code"] == event["join_code"]
    assert (await client.get("/events/id/old")).json() == {"id": event["id"]}


async def test_update_replaces_feature_flags_deduplicated(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await created(client, owner, feature_flags=["a"])
    response = await client.put(
        f"/events/{event['id']}", json={"feature_flags": ["b", "b"]}, headers=auth_headers(owner)
    )
    assert response.json()["feature_flags"] == ["b"]


@pytest.mark.parametrize(
    "fields",
    [{"name": None}, {"votable": None}, {"name": " "}, {"feature_flags": ["a b"]}],
)
async def test_invalid_update_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, fields: dict[str, Any]
) -> None:
    owner = await make_user()
    event = await created(client, owner)
    response = await client.put(f"/events/{event['id']}", json=fields, headers=auth_headers(owner))
    assert response.status_code == 422


async def test_owner_deletes_event_with_everything_in_it(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, voter, maker = await make_user(), await make_user(), await make_user()
    event = await created(client, owner, votable=True)
    for user in (voter, maker):
        response = await client.post(
            "/events/attend",
            params={"join_code": event["join_code"], "referral": "a friend"},
            headers=auth_headers(user),
        )
        assert response.status_code == 200
    event_uuid = await db.fetchval("SELECT id FROM events")
    project = await db.fetchval(
        "INSERT INTO projects (name, join_code, owner_id, event_id) "
        "VALUES ('P', 'PROJ01', $1, $2) RETURNING id",
        maker.pk,
        event_uuid,
    )
    await db.execute(
        "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)", project, owner.pk
    )
    await db.execute(
        "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
        voter.pk,
        project,
        event_uuid,
    )

    response = await client.delete(f"/events/{event['id']}", headers=auth_headers(owner))

    assert response.status_code == 204
    assert response.content == b""
    for table in ("events", "event_attendees", "projects", "project_collaborators", "votes"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await db.fetchval("SELECT count(*) FROM referrals") == 0
    assert await db.fetchval("SELECT count(*) FROM users") == 3
    assert (await client.get(f"/events/{event['id']}")).status_code == 404


OWNER_ONLY = [
    ("PUT", {"name": "Taken Over"}),
    ("DELETE", None),
]


@pytest.mark.parametrize(("method", "body"), OWNER_ONLY)
@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 401), ("attendee", 403), ("outsider", 403)]
)
async def test_only_the_owner_may_change_an_event(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    make_user: MakeUser,
    method: str,
    body: dict[str, Any] | None,
    role: str,
    status: int,
) -> None:
    owner, attendee, outsider = await make_user(), await make_user(), await make_user()
    event = await created(client, owner, name="Kept")
    await joined(client, attendee, event["join_code"])
    headers = {"attendee": auth_headers(attendee), "outsider": auth_headers(outsider)}.get(role, {})

    response = await client.request(method, f"/events/{event['id']}", json=body, headers=headers)

    assert response.status_code == status
    assert await db.fetchval("SELECT name FROM events") == "Kept"


@pytest.mark.parametrize(("method", "body"), OWNER_ONLY)
async def test_changing_an_unknown_event_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, method: str, body: dict[str, Any] | None
) -> None:
    user = await make_user()
    unknown = public_id(Entity.EVENT, 987_654)
    response = await client.request(
        method, f"/events/{unknown}", json=body, headers=auth_headers(user)
    )
    assert response.status_code == 404


async def test_null_feature_flags_on_update_is_422_not_500(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    # Found by the schemathesis contract run: null slipped past validation into a NOT NULL column.
    owner = await make_user()
    created = await client.post(
        "/events/", json={"name": "Null Flags"}, headers=auth_headers(owner)
    )
    response = await client.put(
        f"/events/{created.json()['id']}", json={"feature_flags": None}, headers=auth_headers(owner)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
