"""/events/admin/{event_id}: the owner's event, attendees, votes, referrals, removing attendees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.models import User
from podium.public_ids import public_id
from tests.api.conftest import joined, uid
from tests.conftest import MakeUser, auth_headers


@dataclass(frozen=True)
class Event:
    id: uuid.UUID
    public: str
    join_code: str
    owner: User

    @property
    def admin(self) -> str:
        return f"/events/admin/{self.public}"


async def new_event(client: httpx.AsyncClient, db: asyncpg.Pool, owner: User) -> Event:
    response = await client.post(
        "/events/", json={"name": f"Hack {owner.seq}", "votable": True}, headers=auth_headers(owner)
    )
    assert response.status_code == 201
    body = response.json()
    row = await db.fetchval("SELECT id FROM events WHERE slug = $1", body["slug"])
    return Event(row, body["id"], body["join_code"], owner)


async def insert_project(
    db: asyncpg.Pool, event: Event, owner: User, code: str
) -> tuple[uuid.UUID, int]:
    row = await db.fetchrow(
        "INSERT INTO projects (name, join_code, owner_id, event_id) VALUES ('P', $1, $2, $3) "
        "RETURNING id, seq",
        code,
        owner.pk,
        event.id,
    )
    return row["id"], row["seq"]


# --- permission matrix for every admin route ----------------------------------------------

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "", None),
    ("GET", "/attendees", None),
    ("GET", "/votes", None),
    ("GET", "/referrals", None),
    ("POST", "/remove-attendee", {}),  # body filled in with the attendee
]


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 401), ("attendee", 403), ("outsider", 403), ("owner", None)]
)
async def test_admin_routes_are_for_the_owner_only(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    make_user: MakeUser,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    role: str,
    status: int | None,
) -> None:
    owner, attendee, outsider = await make_user(), await make_user(), await make_user()
    event = await new_event(client, db, owner)
    await joined(client, attendee, event.join_code)
    if body is not None:
        body = {"user": uid(attendee)}
    headers = {
        "owner": auth_headers(owner),
        "attendee": auth_headers(attendee),
        "outsider": auth_headers(outsider),
    }.get(role, {})

    response = await client.request(method, event.admin + suffix, json=body, headers=headers)

    expected = status or (204 if method == "POST" else 200)
    assert response.status_code == expected, response.text
    assert await db.fetchval("SELECT count(*) FROM event_attendees") == (
        0 if role == "owner" and method == "POST" else 1
    )


@pytest.mark.parametrize(("method", "suffix", "body"), ROUTES)
async def test_admin_routes_of_unknown_event_are_404(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    user = await make_user()
    if body is not None:
        body = {"user": uid(user)}
    unknown = public_id(Entity.EVENT, 424_242)
    response = await client.request(
        method, f"/events/admin/{unknown}{suffix}", json=body, headers=auth_headers(user)
    )
    assert response.status_code == 404


# --- the owner's event -----------------------------------------------------------------------


async def test_admin_event_is_the_owners_view(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    await joined(client, await make_user(), event.join_code)

    body = (await client.get(event.admin, headers=auth_headers(owner))).json()

    assert body["id"] == event.public
    assert body["join_code"] == event.join_code
    assert body["attendee_count"] == 1
    assert body["max_votes_per_user"] == 1


# --- attendees -------------------------------------------------------------------------------


async def test_attendees_show_contact_details_in_joining_order(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    ada = await make_user(first_name="Ada", last_name="Lovelace", phone="555", city="London")
    bob = await make_user(first_name="Bob", last_name="")
    await joined(client, ada, event.join_code)
    await joined(client, bob, event.join_code)

    response = await client.get(event.admin + "/attendees", headers=auth_headers(owner))

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    first, second = body["items"]
    assert set(first) == {"id", "email", "first_name", "last_name", "display_name", "joined_at"}
    assert (first["id"], first["email"], first["first_name"], first["last_name"]) == (
        uid(ada),
        ada.email,
        "Ada",
        "Lovelace",
    )
    assert first["display_name"] == "Ada L."
    assert second["id"] == uid(bob)
    assert first["joined_at"] <= second["joined_at"]


async def test_attendees_page_through_every_attendee_once(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    users = [await make_user() for _ in range(7)]
    # Joined in one statement: equal created_at, so the order rests on the seq tie-break.
    await db.executemany(
        "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)",
        [(event.id, u.pk) for u in users],
    )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            event.admin + "/attendees", params=params, headers=auth_headers(owner)
        )
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert sorted(seen) == sorted(uid(u) for u in users)
    assert len(set(seen)) == 7


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"cursor": "not a cursor"},
        {"cursor": "!!!!"},
        {"cursor": "bm90fGE"},  # "not|a"
        {"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # seq too big
        {"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHwx"},  # naive timestamp
        {"cursor": "x" * 201},
    ],
)
async def test_bad_page_parameters_are_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, params: dict[str, Any]
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    for suffix in ("/attendees", "/votes", "/referrals"):
        response = await client.get(
            event.admin + suffix, params=params, headers=auth_headers(owner)
        )
        assert response.status_code == 422, (suffix, response.text)
        if "cursor" in params and len(params["cursor"]) <= 200:
            assert response.json()["error"]["code"] == "invalid_cursor"


async def test_remove_attendee_removes_their_votes_in_the_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, voter, stays, maker = [await make_user() for _ in range(4)]
    event = await new_event(client, db, owner)
    for user in (voter, stays, maker):
        await joined(client, user, event.join_code)
    project, project_seq = await insert_project(db, event, maker, "PROJ01")
    for user in (voter, stays):
        response = await client.post(
            "/events/vote",
            json={"event": event.public, "projects": [public_id(Entity.PROJECT, project_seq)]},
            headers=auth_headers(user),
        )
        assert response.status_code == 201

    response = await client.post(
        event.admin + "/remove-attendee", json={"user": uid(voter)}, headers=auth_headers(owner)
    )

    assert response.status_code == 204
    assert await db.fetchval("SELECT array_agg(voter_id) FROM votes") == [stays.pk]
    assert (
        await db.fetchval("SELECT count(*) FROM event_attendees WHERE user_id = $1", voter.pk) == 0
    )
    assert await db.fetchval("SELECT count(*) FROM projects WHERE id = $1", project) == 1
    vote = await client.post(
        "/events/vote",
        json={"event": event.public, "projects": [public_id(Entity.PROJECT, project_seq)]},
        headers=auth_headers(voter),
    )
    assert vote.status_code == 403


async def test_removing_a_non_attendee_is_400(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    for user in (uid(await make_user()), public_id(Entity.USER, 777_777)):
        response = await client.post(
            event.admin + "/remove-attendee", json={"user": user}, headers=auth_headers(owner)
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "not_attending"


@pytest.mark.parametrize("body", [{}, {"user": "nope"}, {"user": None}, {"user_id": "x"}])
async def test_malformed_remove_attendee_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, body: dict[str, Any]
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    response = await client.post(
        event.admin + "/remove-attendee", json=body, headers=auth_headers(owner)
    )
    assert response.status_code == 422


async def test_owner_may_remove_their_own_attendance_and_stays_owner(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, db, owner)
    await joined(client, owner, event.join_code)
    response = await client.post(
        event.admin + "/remove-attendee", json={"user": uid(owner)}, headers=auth_headers(owner)
    )
    assert response.status_code == 204
    assert (await client.get(event.admin, headers=auth_headers(owner))).status_code == 200


# --- votes and referrals ---------------------------------------------------------------------


async def test_votes_list_shows_voter_project_and_time(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, voter, maker = await make_user(), await make_user(), await make_user()
    event = await new_event(client, db, owner)
    await joined(client, voter, event.join_code)
    await joined(client, maker, event.join_code)
    _, project_seq = await insert_project(db, event, maker, "PROJ01")
    project = public_id(Entity.PROJECT, project_seq)
    cast = await client.post(
        "/events/vote",
        json={"event": event.public, "projects": [project]},
        headers=auth_headers(voter),
    )

    response = await client.get(event.admin + "/votes", headers=auth_headers(owner))

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == cast.json()["votes"][0]["id"]
    assert item["voter"] == {"id": uid(voter), "display_name": voter.display_name}
    assert item["project_id"] == project
    assert item["created_at"] == cast.json()["votes"][0]["created_at"]


async def test_votes_page_by_limit(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, maker = await make_user(), await make_user()
    event = await new_event(client, db, owner)
    project, _ = await insert_project(db, event, maker, "PROJ01")
    voters = [await make_user() for _ in range(5)]
    await db.executemany(
        "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)",
        [(event.id, v.pk) for v in voters],
    )
    await db.executemany(
        "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
        [(v.pk, project, event.id) for v in voters],
    )
    first = (
        await client.get(event.admin + "/votes", params={"limit": 4}, headers=auth_headers(owner))
    ).json()
    rest = (
        await client.get(
            event.admin + "/votes",
            params={"limit": 4, "cursor": first["next_cursor"]},
            headers=auth_headers(owner),
        )
    ).json()
    assert (len(first["items"]), len(rest["items"]), rest["next_cursor"]) == (4, 1, None)
    voters_seen = [item["voter"]["id"] for item in first["items"] + rest["items"]]
    assert voters_seen == [uid(v) for v in voters]


async def test_referrals_list_shows_content_and_user(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada, bob = await make_user(), await make_user(), await make_user()
    event = await new_event(client, db, owner)
    await joined(client, ada, event.join_code, "a poster")
    await joined(client, bob, event.join_code)

    response = await client.get(event.admin + "/referrals", headers=auth_headers(owner))

    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["content"] == "a poster"
    assert item["user"] == {"id": uid(ada), "display_name": ada.display_name}
    assert item["id"] == public_id(Entity.REFERRAL, await db.fetchval("SELECT seq FROM referrals"))
    assert response.json()["next_cursor"] is None
