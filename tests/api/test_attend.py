"""POST /events/attend: join by code, referrals, joining twice, and simultaneous joins."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from podium.models import User
from tests.api.conftest import join_event
from tests.conftest import MakeUser, auth_headers


async def new_event(client: httpx.AsyncClient, owner: User) -> dict[str, Any]:
    response = await client.post("/events/", json={"name": "Hack"}, headers=auth_headers(owner))
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


async def test_join_with_code_in_any_case_returns_the_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    event = await new_event(client, await make_user())
    user = await make_user()

    response = await join_event(client, user, f"  {event['join_code'].lower()} ")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == event["id"]
    assert "join_code" not in body
    assert await db.fetchval("SELECT user_id FROM event_attendees") == user.pk
    assert await db.fetchval("SELECT count(*) FROM referrals") == 0
    attending = (await client.get("/events/", headers=auth_headers(user))).json()
    assert [e["id"] for e in attending["attending_events"]] == [event["id"]]


async def test_referral_is_stored_stripped(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    event = await new_event(client, await make_user())
    user = await make_user()

    response = await join_event(client, user, event["join_code"], referral="  my teacher ")

    assert response.status_code == 200
    row = await db.fetchrow("SELECT content, user_id FROM referrals")
    assert (row["content"], row["user_id"]) == ("my teacher", user.pk)


async def test_blank_referral_is_not_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    event = await new_event(client, await make_user())
    assert (
        await join_event(client, await make_user(), event["join_code"], "   ")
    ).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM referrals") == 0


async def test_owner_may_join_their_own_event(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await new_event(client, owner)
    assert (await join_event(client, owner, event["join_code"])).status_code == 200


@pytest.mark.parametrize("join_code", ["NOPE42", "ZZZZZZZZZZZZZZZZ", "   "])
async def test_unknown_join_code_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, join_code: str
) -> None:
    await new_event(client, await make_user())
    response = await join_event(client, await make_user(), join_code)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_joining_twice_is_409_and_keeps_the_first_referral(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    event = await new_event(client, await make_user())
    user = await make_user()
    assert (await join_event(client, user, event["join_code"], "first")).status_code == 200

    again = await join_event(client, user, event["join_code"], "second")

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_attending"
    assert await db.fetchval("SELECT array_agg(content) FROM referrals") == ["first"]


@pytest.mark.parametrize(
    "params",
    [{}, {"join_code": ""}, {"join_code": "X" * 33}, {"join_code": "ABC", "referral": "x" * 501}],
)
async def test_malformed_join_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, params: dict[str, str]
) -> None:
    response = await client.post(
        "/events/attend", params=params, headers=auth_headers(await make_user())
    )
    assert response.status_code == 422


async def test_join_needs_a_token(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    event = await new_event(client, await make_user())
    response = await client.post("/events/attend", params={"join_code": event["join_code"]})
    assert response.status_code == 401


async def test_simultaneous_joins_by_one_user_make_one_attendance(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    event = await new_event(client, await make_user())
    user = await make_user()

    responses = await asyncio.gather(
        *(join_event(client, user, event["join_code"], f"ref {n}") for n in range(10))
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    assert await db.fetchval("SELECT count(*) FROM event_attendees") == 1
    assert await db.fetchval("SELECT count(*) FROM referrals") == 1
