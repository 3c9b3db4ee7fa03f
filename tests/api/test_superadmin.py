"""The platform admin: `podium admin grant|revoke`, superadmins on every organiser route of any
event, the /superadmin/ routes, and no way to become one through the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import httpx
import pytest

from podium.models import User
from tests.api.conftest import attend, eid, make_event, make_project, uid
from tests.conftest import MakeUser, auth_headers


async def superadmin(make_user: MakeUser, db: asyncpg.Pool, **fields: object) -> User:
    user = await make_user(**fields)
    await db.execute("UPDATE users SET is_superadmin = true WHERE id = $1", user.pk)
    return user


async def flag(db: asyncpg.Pool, user: User) -> bool:
    return bool(await db.fetchval("SELECT is_superadmin FROM users WHERE id = $1", user.pk))


# --- the CLI --------------------------------------------------------------------------------


def _podium_admin(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podium.cli", "admin", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_podium_admin_grants_and_revokes_by_email(
    database_url: str, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    ada = await make_user(email="ada@example.com")
    bob = await make_user()
    assert not await flag(db, ada)

    # Any case and stray spaces: emails are stored normalised.
    granted = await asyncio.to_thread(_podium_admin, database_url, "grant", " ADA@Example.com ")
    assert granted.returncode == 0, granted.stderr
    assert "ada@example.com is now a superadmin" in granted.stdout
    assert await flag(db, ada)
    assert not await flag(db, bob)

    revoked = await asyncio.to_thread(_podium_admin, database_url, "revoke", "ada@example.com")
    assert revoked.returncode == 0, revoked.stderr
    assert "no longer a superadmin" in revoked.stdout
    assert not await flag(db, ada)


async def test_podium_admin_refuses_an_unknown_email(database_url: str, db: asyncpg.Pool) -> None:
    finished = await asyncio.to_thread(_podium_admin, database_url, "grant", "nobody@example.com")
    assert finished.returncode != 0
    assert "no user has the email 'nobody@example.com'" in finished.stderr
    assert await db.fetchval("SELECT count(*) FROM users WHERE is_superadmin") == 0


# --- never through the API ------------------------------------------------------------------


async def test_no_user_route_sets_the_flag(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    signup = await client.post(
        "/users/",
        json={"email": "eve@example.com", "first_name": "Eve", "is_superadmin": True},
    )
    assert signup.status_code == 201, signup.text
    assert "is_superadmin" not in signup.json()
    assert (
        await db.fetchval("SELECT is_superadmin FROM users WHERE email = 'eve@example.com'")
        is False
    )

    mallory = await make_user()
    update = await client.put(
        "/users/current",
        json={"display_name": "Mal", "is_superadmin": True},
        headers=auth_headers(mallory),
    )
    assert update.status_code == 200, update.text
    assert update.json()["display_name"] == "Mal"
    assert not await flag(db, mallory)
    # And still refused where a superadmin would pass.
    listed = await client.get("/superadmin/users", headers=auth_headers(mallory))
    assert listed.status_code == 403


# --- every organiser route of any event -----------------------------------------------------

OWNER_READS = [
    "",
    "/leaderboard",
    "/attendees",
    "/votes",
    "/referrals",
    "/export/projects.csv",
    "/export/votes.csv",
    "/export/attendees.csv",
    "/export/referrals.csv",
]


@pytest.mark.parametrize("suffix", OWNER_READS)
async def test_a_superadmin_reads_every_admin_route_of_anyones_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, suffix: str
) -> None:
    owner, outsider = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, votable=True)
    await attend(event, owner)
    await make_project(owner, event)
    path = f"/events/admin/{eid(event)}{suffix}"

    allowed = await client.get(path, headers=auth_headers(admin))
    assert allowed.status_code == 200, allowed.text
    assert (await client.get(path, headers=auth_headers(owner))).status_code == 200
    refused = await client.get(path, headers=auth_headers(outsider))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_a_superadmin_edits_and_moves_the_phase_of_anyones_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, outsider = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, phase="submission")
    path = f"/events/{eid(event)}"

    refused = await client.put(path, json={"phase": "voting"}, headers=auth_headers(outsider))
    assert refused.status_code == 403
    edited = await client.put(
        path, json={"name": "Renamed", "phase": "voting"}, headers=auth_headers(admin)
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["phase"]) == ("Renamed", "voting")
    closed = await client.put(path, json={"phase": "closed"}, headers=auth_headers(admin))
    assert closed.json()["phase"] == "closed"
    row = await db.fetchrow("SELECT name, phase, owner_id FROM events WHERE id = $1", event.pk)
    assert (row["name"], row["phase"], row["owner_id"]) == ("Renamed", "closed", owner.pk)


async def test_a_superadmin_removes_an_attendee_and_deletes_anyones_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, guest, outsider = await make_user(), await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    await attend(event, guest)
    admin_path = f"/events/admin/{eid(event)}/remove-attendee"

    refused = await client.post(
        admin_path, json={"user": uid(guest)}, headers=auth_headers(outsider)
    )
    assert refused.status_code == 403
    removed = await client.post(admin_path, json={"user": uid(guest)}, headers=auth_headers(admin))
    assert removed.status_code == 204, removed.text
    assert (
        await db.fetchval("SELECT count(*) FROM event_attendees WHERE event_id = $1", event.pk) == 0
    )

    assert (
        await client.delete(f"/events/{eid(event)}", headers=auth_headers(outsider))
    ).status_code == 403
    deleted = await client.delete(f"/events/{eid(event)}", headers=auth_headers(admin))
    assert deleted.status_code == 204, deleted.text
    assert await db.fetchval("SELECT count(*) FROM events WHERE id = $1", event.pk) == 0


async def test_a_superadmin_sees_a_draft_others_do_not(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, outsider = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, phase="draft")
    assert (
        await client.get(f"/events/{eid(event)}", headers=auth_headers(outsider))
    ).status_code == 404
    seen = await client.get(f"/events/{eid(event)}", headers=auth_headers(admin))
    assert seen.status_code == 200, seen.text


async def test_the_organiser_check_costs_no_extra_statement(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, count_queries: list[str]
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    path = f"/events/admin/{eid(event)}"
    await client.get(path, headers=auth_headers(owner))
    as_owner = len(count_queries)
    count_queries.clear()
    await client.get(path, headers=auth_headers(admin))
    assert len(count_queries) == as_owner > 0


# --- /superadmin/ ---------------------------------------------------------------------------

SUPERADMIN_ROUTES = [
    ("GET", "/superadmin/events"),
    ("GET", "/superadmin/users"),
    ("POST", "/superadmin/events"),
    ("POST", "/superadmin/events/{event}/owner"),
]


@pytest.mark.parametrize(("method", "path"), SUPERADMIN_ROUTES)
async def test_superadmin_routes_refuse_anonymous_and_non_admins(
    client: httpx.AsyncClient, make_user: MakeUser, method: str, path: str
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    url = path.format(event=eid(event))
    body = {"owner": uid(owner), "name": "Theirs"} if method == "POST" else None
    anonymous = await client.request(method, url, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    # The event's owner is no superadmin either.
    refused = await client.request(method, url, json=body, headers=auth_headers(owner))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_superadmin_searches_and_pages_every_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db)
    ada, bob = await make_user(), await make_user()
    draft = await make_event(ada, name="Winter Jam", slug="winter-jam", phase="draft")
    await make_event(bob, name="Summer Hack", slug="summer-hack")
    shaped = await make_event(bob, name="Night 100%_", slug="night-special")
    headers = auth_headers(admin)

    found = await client.get("/superadmin/events", params={"q": "WINTER"}, headers=headers)
    assert found.status_code == 200, found.text
    [item] = found.json()["items"]
    assert item["id"] == eid(draft)  # a draft too
    assert item["phase"] == "draft"
    assert item["owner"] == {"id": uid(ada), "email": ada.email, "display_name": ada.display_name}
    by_slug = await client.get("/superadmin/events", params={"q": "summer-h"}, headers=headers)
    assert [e["name"] for e in by_slug.json()["items"]] == ["Summer Hack"]
    # The search's wildcards are literal characters.
    literal = await client.get("/superadmin/events", params={"q": "%_"}, headers=headers)
    assert [e["id"] for e in literal.json()["items"]] == [eid(shaped)]
    none = await client.get("/superadmin/events", params={"q": "zzz"}, headers=headers)
    assert none.json() == {"items": [], "next_cursor": None}

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await client.get("/superadmin/events", params=params, headers=headers)
        assert page.status_code == 200
        seen += [e["name"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Winter Jam", "Summer Hack", "Night 100%_"]

    bad = await client.get("/superadmin/events", params={"cursor": "nope"}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_cursor"


async def test_superadmin_searches_and_pages_every_user(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db, email="root@example.com", first_name="Root")
    grace = await make_user(email="grace@example.org", first_name="Grace", last_name="Hopper")
    await make_user(email="linus@example.net", first_name="Linus")
    headers = auth_headers(admin)

    by_name = await client.get("/superadmin/users", params={"q": "hopp"}, headers=headers)
    assert by_name.status_code == 200, by_name.text
    [item] = by_name.json()["items"]
    assert item["id"] == uid(grace)
    assert (item["email"], item["is_superadmin"]) == ("grace@example.org", False)
    by_email = await client.get("/superadmin/users", params={"q": "ROOT@"}, headers=headers)
    assert [u["is_superadmin"] for u in by_email.json()["items"]] == [True]

    first = await client.get("/superadmin/users", params={"limit": "2"}, headers=headers)
    assert len(first.json()["items"]) == 2
    rest = await client.get(
        "/superadmin/users",
        params={"limit": "2", "cursor": first.json()["next_cursor"]},
        headers=headers,
    )
    assert [u["email"] for u in rest.json()["items"]] == ["linus@example.net"]
    assert rest.json()["next_cursor"] is None


async def test_superadmin_transfers_ownership(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db)
    ada, bob = await make_user(), await make_user()
    event = await make_event(ada)
    url = f"/superadmin/events/{eid(event)}/owner"

    moved = await client.post(url, json={"owner": uid(bob)}, headers=auth_headers(admin))
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_id"] == uid(bob)
    assert await db.fetchval("SELECT owner_id FROM events WHERE id = $1", event.pk) == bob.pk
    admin_view = f"/events/admin/{eid(event)}"
    assert (await client.get(admin_view, headers=auth_headers(bob))).status_code == 200
    assert (await client.get(admin_view, headers=auth_headers(ada))).status_code == 403

    unknown_user = await client.post(url, json={"owner": "u_0000"}, headers=auth_headers(admin))
    assert unknown_user.status_code in (404, 422)
    assert await db.fetchval("SELECT owner_id FROM events WHERE id = $1", event.pk) == bob.pk
    unknown_event = await client.post(
        "/superadmin/events/e_zzzz/owner", json={"owner": uid(bob)}, headers=auth_headers(admin)
    )
    assert unknown_event.status_code == 404


async def test_transfer_to_a_deleted_user_is_a_404(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db)
    ada, gone = await make_user(), await make_user()
    event = await make_event(ada)
    gone_id = uid(gone)
    await db.execute("DELETE FROM users WHERE id = $1", gone.pk)
    response = await client.post(
        f"/superadmin/events/{eid(event)}/owner",
        json={"owner": gone_id},
        headers=auth_headers(admin),
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_superadmin_creates_an_event_for_someone(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db)
    ada = await make_user()
    created = await client.post(
        "/superadmin/events",
        json={"name": "Ada's Jam", "owner": uid(ada), "phase": "draft"},
        headers=auth_headers(admin),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["owner_id"], body["phase"], body["slug"]) == (uid(ada), "draft", "ada-s-jam")
    owner_id = await db.fetchval("SELECT owner_id FROM events WHERE slug = $1", body["slug"])
    assert owner_id == ada.pk
    mine = await client.get("/events/", headers=auth_headers(ada))
    assert [e["id"] for e in mine.json()["owned_events"]] == [body["id"]]

    gone = await make_user()
    gone_id = uid(gone)
    await db.execute("DELETE FROM users WHERE id = $1", gone.pk)
    missing = await client.post(
        "/superadmin/events", json={"name": "X", "owner": gone_id}, headers=auth_headers(admin)
    )
    assert missing.status_code == 404
    assert await db.fetchval("SELECT count(*) FROM events WHERE name = 'X'") == 0
