"""DELETE /users/current: refused while the account owns events; otherwise the account, its
votes and memberships go in one transaction, points and ETags follow, and its tokens end for
good (a new account with the same email inherits none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jwt

from podium.models import ProjectCollaborator, Referral, Vote
from tests.api.conftest import (
    assert_error,
    attend,
    eid,
    login_link_token,
    make_event,
    make_project,
    pid,
    uid,
)
from tests.conftest import TEST_JWT_SECRET, MakeUser, access_token, auth_headers

EMAIL = "ada@example.com"
SIGN_UP = {"email": EMAIL, "first_name": "Ada", "last_name": "Lovelace"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def logged_in(client: httpx.AsyncClient, db: asyncpg.Pool, email: str = EMAIL) -> str:
    response = await client.get("/verify", params={"token": await login_link_token(db, email)})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def delete_account(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.delete("/users/current", headers=bearer(token))


async def test_an_owner_of_events_is_told_which_to_delete_first(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user(email=EMAIL)
    first, second = await make_event(ada, name="First"), await make_event(ada, name="Second")
    response = await delete_account(client, await logged_in(client, db))
    assert_error(response, 409, "owns_events")
    error = response.json()["error"]
    assert error["details"] == [
        {"event_id": eid(first), "name": "First"},
        {"event_id": eid(second), "name": "Second"},
    ]
    assert eid(first) in error["message"]
    assert await db.fetchval("SELECT count(*) FROM users WHERE id = $1", ada.pk) == 1
    # Once the events are gone, the account can go.
    for event in (first, second):
        deleted = await client.delete(f"/events/{eid(event)}", headers=auth_headers(ada))
        assert deleted.status_code == 204, deleted.text
    assert (await delete_account(client, await logged_in(client, db))).status_code == 204


async def test_deleting_takes_votes_memberships_and_referrals_and_points_follow(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    organiser, ada, grace = await make_user(), await make_user(email=EMAIL), await make_user()
    event = await make_event(organiser, phase="closed")
    await attend(event, ada, grace)
    rover = await make_project(grace, event, "Rover")
    lamp = await make_project(await make_user(), event, "Lamp")
    await ProjectCollaborator.objects.create(project=lamp, user=ada)
    await Vote.objects.create(voter=ada, project=rover, event=event)
    await Vote.objects.create(voter=grace, project=lamp, event=event)
    await Referral.objects.create(content="a friend", user=ada, event=event)
    board_url = f"/events/{eid(event)}/projects?leaderboard=true"
    before = await client.get(board_url)
    assert {p["id"]: p["points"] for p in before.json()} == {pid(rover): 1, pid(lamp): 1}
    lamp_before = next(p for p in before.json() if p["id"] == pid(lamp))
    assert [c["id"] for c in lamp_before["collaborators"]] == [uid(ada)]

    response = await delete_account(client, await logged_in(client, db))
    assert response.status_code == 204, response.text

    after = await client.get(board_url)
    assert after.headers["etag"] != before.headers["etag"]
    assert {p["id"]: p["points"] for p in after.json()} == {pid(rover): 0, pid(lamp): 1}
    assert all(p["collaborators"] == [] for p in after.json())
    for table, column in [
        ("users", "id"),
        ("votes", "voter_id"),
        ("event_attendees", "user_id"),
        ("project_collaborators", "user_id"),
        ("referrals", "user_id"),
    ]:
        count = await db.fetchval(f"SELECT count(*) FROM {table} WHERE {column} = $1", ada.pk)
        assert count == 0, table
    assert await db.fetchval("SELECT count(*) FROM event_attendees") == 1  # grace's
    revalidated = await client.get(board_url, headers={"If-None-Match": before.headers["etag"]})
    assert revalidated.status_code == 200


async def test_a_team_project_passes_to_its_first_collaborator_a_solo_one_goes(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, grace, alan = await make_user(email=EMAIL), await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace, alan)
    team = await make_project(ada, event, "Team")
    solo = await make_project(ada, event, "Solo")
    await ProjectCollaborator.objects.create(project=team, user=grace)
    await ProjectCollaborator.objects.create(project=team, user=alan)
    listed = await client.get(f"/events/{eid(event)}/projects")

    assert (await delete_account(client, await logged_in(client, db))).status_code == 204

    page = await client.get(f"/projects/{pid(team)}")
    assert page.status_code == 200
    assert page.json()["owner"]["id"] == uid(grace)
    assert [c["id"] for c in page.json()["collaborators"]] == [uid(alan)]
    assert (await client.get(f"/projects/{pid(solo)}")).status_code == 404
    relisted = await client.get(f"/events/{eid(event)}/projects")
    assert relisted.headers["etag"] != listed.headers["etag"]


async def test_a_token_of_a_deleted_account_does_not_work_for_a_new_one_of_the_same_email(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    old = await logged_in(client, db)
    unused_link = await login_link_token(db, EMAIL)
    assert (await delete_account(client, old)).status_code == 204
    assert_error(await client.get("/users/current", headers=bearer(old)), 401, "invalid_token")

    signed_up = await client.post("/users/", json=SIGN_UP)
    assert signed_up.status_code == 201, signed_up.text
    assert_error(await client.get("/users/current", headers=bearer(old)), 401, "invalid_token")
    # Nor does a link mailed to the old account.
    response = await client.get("/verify", params={"token": unused_link})
    assert_error(response, 401, "invalid_token")
    fresh = await logged_in(client, db)
    current = await client.get("/users/current", headers=bearer(fresh))
    assert current.status_code == 200
    assert current.json()["id"] == signed_up.json()["id"]


def v1_access_token(issued: datetime, email: str = EMAIL) -> str:
    """A v1 access token (no `iat`, `uid` or `gen`): issued two days before its `exp`."""
    claims = {"sub": email, "token_type": "access", "exp": issued + timedelta(days=2)}
    return jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")


async def test_a_v1_token_of_a_deleted_account_does_not_work_for_a_new_one(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    now = datetime.now(UTC)
    await make_user(email=EMAIL, created_at=now - timedelta(days=30), airtable_id="rec" + "A" * 14)
    old_v1 = v1_access_token(issued=now - timedelta(minutes=10))
    minted_by_email = access_token(EMAIL)  # has `iat`, no `uid`: the smoke test's kind
    assert (await client.get("/users/current", headers=bearer(old_v1))).status_code == 200
    assert (await delete_account(client, old_v1)).status_code == 204

    assert (await client.post("/users/", json=SIGN_UP)).status_code == 201
    assert_error(await client.get("/users/current", headers=bearer(old_v1)), 401, "invalid_token")
    # Within the clock allowance (a minute) a token minted by email just before the new
    # sign-up cannot be told from one minted just after it: move the sign-up past it.
    await db.execute("UPDATE users SET created_at = now() + interval '5 minutes'")
    response = await client.get("/users/current", headers=bearer(minted_by_email))
    assert_error(response, 401, "invalid_token")


async def test_a_v1_token_of_a_migrated_account_keeps_working(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    # The cutover case: created in v1 a month ago (the backfill keeps v1's creation time),
    # logged in yesterday.
    now = datetime.now(UTC)
    await make_user(email=EMAIL, created_at=now - timedelta(days=30), airtable_id="rec" + "B" * 14)
    token = v1_access_token(issued=now - timedelta(days=1))
    response = await client.get("/users/current", headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_deleting_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/users/current"), 401, "unauthorized")
