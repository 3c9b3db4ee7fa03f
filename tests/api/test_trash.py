"""The trash over HTTP: deleting moves an event or a project out of every read and count, a
restore puts every row back as it was, reserved values, purge, permissions."""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest

from podium.models import Event, Project, ProjectCollaborator, Referral, User, Vote
from podium.queries import trash as trash_rows
from podium.services import join_codes
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers

# Tables a round trip must leave exactly as they were: all but the trash's own, the ETag
# counters (a restore must move them) and the rate limits' state.
# The trash's own tables, the ETag counters (a restore bumps them on purpose), the rate limiter's
# ledger and the audit trail (the delete and the restore are each recorded) change by design.
_NOT_COMPARED = {
    "alembic_version",
    "trash",
    "trash_reservations",
    "event_revisions",
    "rate_limits",
    "audit_events",
}


async def every_row(db: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    """SELECT * of every table, ordered: what a round trip must give back unchanged."""
    names = [
        row["tablename"]
        for row in await db.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        if row["tablename"] not in _NOT_COMPARED
    ]
    return {
        name: [dict(row) for row in await db.fetch(f'SELECT * FROM "{name}" ORDER BY 1')]
        for name in names
    }


async def superadmin(make_user: MakeUser, db: asyncpg.Pool) -> User:
    user = await make_user()
    await db.execute("UPDATE users SET is_superadmin = true WHERE id = $1", user.pk)
    return user


async def only_entry(client: httpx.AsyncClient, owner: User) -> dict[str, Any]:
    listed = await client.get("/users/current/trash", headers=auth_headers(owner))
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()["items"]
    return dict(entry)


async def restore(client: httpx.AsyncClient, user: User, trash_id: str) -> httpx.Response:
    return await client.post(f"/users/current/trash/{trash_id}/restore", headers=auth_headers(user))


async def busy_event(make_user: MakeUser, db: asyncpg.Pool) -> dict[str, Any]:
    """An event in voting with attendees, 5 projects (2 votes each), a collaborator, votes,
    referrals and link checks."""
    owner = await make_user()
    ada, bob, cy, dee = [await make_user() for _ in range(4)]
    event = await make_event(owner, phase="voting", description="the night")
    await attend(event, ada, bob, cy, dee)
    projects = [
        await make_project(ada, event, "Rover", repo="https://github.com/a/rover"),
        await make_project(bob, event, "Lamp"),
        await make_project(ada, event, "Kite"),
        await make_project(bob, event, "Drum"),
        await make_project(cy, event, "Loom"),
    ]
    await ProjectCollaborator.objects.create(project=projects[0], user=cy)
    for voter, project in ((cy, projects[1]), (dee, projects[0]), (dee, projects[1])):
        await Vote.objects.create(voter=voter, project=project, event=event)
    await Referral.objects.create(user=ada, event=event, content="a friend")
    await Referral.objects.create(user=dee, event=event, content="the radio")
    for project in projects[:2]:
        await db.execute(
            "INSERT INTO link_checks (project_id, status, reasons, checked_at)"
            " VALUES ($1, 'valid', '[\"ok\"]', now() - interval '1 hour')",
            project.pk,
        )
    return {"owner": owner, "users": (ada, bob, cy, dee), "event": event, "projects": projects}


# --- an event's round trip --------------------------------------------------------------------


async def test_event_delete_then_restore_gives_back_every_row(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event = world["owner"], world["event"]
    before = await every_row(db)
    revisions_before = await db.fetchrow(
        "SELECT content_revision, votes_revision FROM event_revisions WHERE event_id = $1",
        event.pk,
    )

    deleted = await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    assert deleted.status_code == 204, deleted.text

    # Gone from every live table and read.
    assert (await client.get(f"/events/{eid(event)}")).status_code == 404
    gone = await every_row(db)
    for table in ("events", "projects", "event_attendees", "votes", "referrals", "link_checks"):
        assert gone[table] == [], table
    assert gone["project_collaborators"] == []
    entry = await only_entry(client, owner)
    assert entry["kind"] == "event"
    assert entry["event_id"] == eid(event)
    assert entry["deleted_by"] == entry["owner_id"]
    assert entry["restorable"] is True
    assert entry["rows"] == {
        "events": 1,
        "event_revisions": 1,
        "event_attendees": 4,
        "referrals": 2,
        "projects": 5,
        "project_collaborators": 1,
        "link_checks": 2,
        "votes": 3,
    }
    reserved = await db.fetch("SELECT kind, value FROM trash_reservations ORDER BY kind, value")
    assert {(row["kind"], row["value"]) for row in reserved} == {
        ("event_slug", event.slug),
        ("event_join_code", event.join_code),
        *(("project_join_code", project.join_code) for project in world["projects"]),
    }

    restored = await restore(client, owner, entry["id"])

    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["restored"] == entry["rows"]
    assert body["skipped"] == {}
    assert body["votes_over_limit"] == 0
    assert await every_row(db) == before
    assert await db.fetchval("SELECT count(*) FROM trash") == 0
    assert await db.fetchval("SELECT count(*) FROM trash_reservations") == 0
    revisions_after = await db.fetchrow(
        "SELECT content_revision, votes_revision FROM event_revisions WHERE event_id = $1",
        event.pk,
    )
    assert revisions_before is not None and revisions_after is not None
    # The ETag counters carry on past where they were: no earlier ETag comes back.
    assert revisions_after["content_revision"] > revisions_before["content_revision"]
    assert revisions_after["votes_revision"] > revisions_before["votes_revision"]
    assert (await client.get(f"/events/{eid(event)}")).status_code == 200


async def test_moved_tables_are_described_by_their_models_column_for_column(
    db: asyncpg.Pool,
) -> None:
    # The move and the restore list each table's columns from its model: a column the database
    # has and the model lacks would be lost in the trash.
    for name, table in trash_rows.MOVED_TABLES.items():
        columns = await db.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1",
            name,
        )
        assert {row["column_name"] for row in columns} == set(table.columns.keys()), name


async def test_every_table_with_a_key_to_events_or_projects_is_moved(db: asyncpg.Pool) -> None:
    referencing = await db.fetch(
        "SELECT DISTINCT conrelid::regclass::text AS name FROM pg_constraint"
        " WHERE contype = 'f' AND confrelid IN ('events'::regclass, 'projects'::regclass)"
    )
    assert {row["name"] for row in referencing} <= set(trash_rows.MOVED_TABLES)


async def test_restore_skips_rows_of_deleted_accounts_and_hands_a_project_over(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, projects = world["owner"], world["event"], world["projects"]
    ada, _, cy, dee = world["users"]
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    entry = await only_entry(client, owner)
    # With the event in the trash they own nothing live: their accounts may go.
    for user in (ada, dee):
        gone = await client.delete("/users/current", headers=auth_headers(user))
        assert gone.status_code == 204, gone.text

    restored = await restore(client, owner, entry["id"])

    assert restored.status_code == 200, restored.text
    body = restored.json()
    # Rover (ada's, cy collaborating) passes to cy; Kite (ada's alone) is left out.
    assert body["projects_handed_over"] == 1
    # ada's and dee's attendances and referrals, Kite, dee's two votes.
    assert body["skipped"] == {"event_attendees": 2, "referrals": 2, "projects": 1, "votes": 2}
    rover = await db.fetchrow("SELECT owner_id FROM projects WHERE id = $1", projects[0].pk)
    assert rover is not None and rover["owner_id"] == cy.pk
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == 0
    assert await db.fetchval("SELECT count(*) FROM projects WHERE id = $1", projects[2].pk) == 0
    assert await db.fetchval("SELECT count(*) FROM votes") == 1  # cy's, for Lamp


# --- a project: out of every count, back on restore -----------------------------------------


async def points(client: httpx.AsyncClient, owner: User, event: Event) -> dict[str, int]:
    board = await client.get(f"/events/admin/{eid(event)}/leaderboard", headers=auth_headers(owner))
    assert board.status_code == 200, board.text
    return {row["id"]: row["points"] for row in board.json()}


async def vote(client: httpx.AsyncClient, voter: User, event: Event, *chosen: Project) -> Any:
    return await client.post(
        "/events/vote",
        json={"event": eid(event), "projects": [pid(project) for project in chosen]},
        headers=auth_headers(voter),
    )


async def test_trashed_project_leaves_every_count_and_comes_back(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, projects = world["owner"], world["event"], world["projects"]
    ada, _, cy, dee = world["users"]
    rover, lamp, kite = projects[:3]
    assert await points(client, owner, event) == {
        pid(rover): 1,
        pid(lamp): 2,
        **{pid(project): 0 for project in projects[2:]},
    }

    deleted = await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    assert deleted.status_code == 204, deleted.text

    assert pid(rover) not in await points(client, owner, event)
    listed = await client.get(f"/events/{eid(event)}/projects")
    assert pid(rover) not in {project["id"] for project in listed.json()}
    assert (await client.get(f"/projects/{pid(rover)}")).status_code == 404
    private = await client.get(f"/events/admin/{eid(event)}", headers=auth_headers(owner))
    assert private.json()["max_votes_per_user"] == 2  # 4 projects left
    # dee's vote for Rover no longer counts: with one vote left, dee votes for Kite.
    again = await vote(client, dee, event, kite)
    assert again.status_code == 201, again.text
    assert again.json()["votes_remaining"] == 0
    assert (await points(client, owner, event))[pid(kite)] == 1
    entry = await only_entry(client, ada)
    assert entry["kind"] == "project" and entry["project_id"] == pid(rover)

    restored = await restore(client, ada, entry["id"])

    assert restored.status_code == 200, restored.text
    body = restored.json()
    # dee now has Lamp and Kite: Rover's vote would be a third over the limit of 2.
    assert body["votes_over_limit"] == 1
    assert body["restored"] == {
        "projects": 1,
        "project_collaborators": 1,
        "link_checks": 1,
        "votes": 0,
    }
    assert (await points(client, owner, event))[pid(rover)] == 0
    collaborator = await db.fetchval(
        "SELECT user_id FROM project_collaborators WHERE project_id = $1", rover.pk
    )
    assert collaborator == cy.pk
    assert (await client.get(f"/projects/{pid(rover)}")).status_code == 200


async def test_a_vote_comes_back_with_its_project(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event = world["owner"], world["event"]
    rover = world["projects"][0]
    ada = world["users"][0]
    before = await every_row(db)
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    assert (await points(client, owner, event)).get(pid(rover)) is None

    restored = await restore(client, ada, (await only_entry(client, ada))["id"])

    assert restored.json()["restored"]["votes"] == 1
    assert (await points(client, owner, event))[pid(rover)] == 1
    assert await every_row(db) == before


async def test_a_project_of_a_trashed_event_waits_for_its_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, rover = world["owner"], world["event"], world["projects"][0]
    ada = world["users"][0]
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    project_entry = await only_entry(client, ada)
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    assert (await only_entry(client, ada))["restorable"] is False

    assert_error(await restore(client, ada, project_entry["id"]), 409, "event_in_trash")

    event_entry = await only_entry(client, owner)
    assert (await restore(client, owner, event_entry["id"])).status_code == 200
    assert (await only_entry(client, ada))["restorable"] is True
    assert (await restore(client, ada, project_entry["id"])).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM projects WHERE event_id = $1", event.pk) == 5


async def test_purging_an_event_purges_its_projects_entries(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, rover = world["owner"], world["event"], world["projects"][0]
    admin = await superadmin(make_user, db)
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(world["users"][0]))
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    event_entry = await only_entry(client, owner)

    purged = await client.delete(
        f"/superadmin/trash/{event_entry['id']}", headers=auth_headers(admin)
    )

    assert purged.status_code == 204, purged.text
    assert await db.fetchval("SELECT count(*) FROM trash") == 0
    assert await db.fetchval("SELECT count(*) FROM trash_reservations") == 0


# --- reserved values --------------------------------------------------------------------------


async def test_a_trashed_slug_stays_taken_until_purged(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    created = await client.post(
        "/events/", json={"name": "Spring Jam"}, headers=auth_headers(owner)
    )
    assert created.status_code == 201, created.text
    await client.delete(f"/events/{created.json()['id']}", headers=auth_headers(owner))

    again = await client.post("/events/", json={"name": "Spring Jam"}, headers=auth_headers(owner))
    assert_error(again, 409, "slug_taken")

    await db.execute("DELETE FROM trash")
    again = await client.post("/events/", json={"name": "Spring Jam"}, headers=auth_headers(owner))
    assert again.status_code == 201, again.text


def _codes_starting_with(monkeypatch: pytest.MonkeyPatch, *first: str) -> None:
    """new_join_code gives `first`, then random codes."""
    codes = itertools.chain(first, iter(lambda: secrets.token_hex(4).upper(), None))
    monkeypatch.setattr(join_codes, "new_join_code", lambda: next(codes))


async def test_a_trashed_join_code_is_skipped_like_a_taken_one(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = await busy_event(make_user, db)
    owner, event, rover = world["owner"], world["event"], world["projects"][0]
    ada = world["users"][0]
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    other = await make_event(owner, phase="submission")
    await attend(other, ada)
    await client.delete(f"/events/{eid(other)}", headers=auth_headers(owner))

    _codes_starting_with(monkeypatch, other.join_code)
    created = await client.post("/events/", json={"name": "Fresh"}, headers=auth_headers(owner))
    assert created.status_code == 201, created.text
    assert created.json()["join_code"] != other.join_code

    _codes_starting_with(monkeypatch, rover.join_code)
    project = await client.post(
        "/projects/",
        json={
            "name": "New",
            "event": eid(event),
            "demo": "https://example.com",
            "repo": "https://github.com/a/new",
            "image_url": "https://example.com/a.png",
        },
        headers=auth_headers(ada),
    )
    assert project.status_code == 201, project.text
    assert project.json()["join_code"] != rover.join_code
    # The reservation kept the codes free for the restores.
    for user in (ada, owner):
        for entry in (await client.get("/users/current/trash", headers=auth_headers(user))).json()[
            "items"
        ]:
            assert (await restore(client, user, entry["id"])).status_code == 200


async def test_creations_racing_a_trash_move_never_take_its_values(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = await make_user()
    creators = [auth_headers(await make_user()) for _ in range(20)]
    trashed: list[Event] = []
    # Each creation tries the code of the event being trashed first (one task per creation),
    # then fresh ones: without the reservations' lock, one that waits on the unique index while
    # the move deletes the event's row takes the code once the move commits.
    tried: set[asyncio.Task[Any] | None] = set()

    def code() -> str:
        task = asyncio.current_task()
        if task in tried:
            return secrets.token_hex(4).upper()
        tried.add(task)
        return trashed[-1].join_code

    monkeypatch.setattr(join_codes, "new_join_code", code)
    # The move holds its deleted rows uncommitted a while: the window a creation must not use.
    take = trash_rows.take

    async def slow_take(*args: Any) -> Any:
        taken = await take(*args)
        await asyncio.sleep(0.05)
        return taken

    monkeypatch.setattr(trash_rows, "take", slow_take)

    async def create(headers: dict[str, str], name: str) -> httpx.Response:
        await asyncio.sleep(secrets.randbelow(60) / 1000)
        return await client.post("/events/", json={"name": name}, headers=headers)

    for round_ in range(4):
        event = await make_event(owner, name=f"Race {round_}", slug=f"race-{round_}")
        trashed.append(event)
        tried.clear()
        results = await asyncio.gather(
            *(create(creators[n], f"Other {round_} {n}") for n in range(18)),
            *(create(creators[n], f"Race {round_}") for n in range(18, 20)),
            client.delete(f"/events/{eid(event)}", headers=auth_headers(owner)),
        )
        statuses = [response.status_code for response in results]
        assert statuses[20] == 204
        assert statuses[18:20] == [409, 409]  # the slug: live, then reserved
        assert all(status == 201 for status in statuses[:18]), statuses

    live_codes = {row["join_code"] for row in await db.fetch("SELECT join_code FROM events")}
    assert not live_codes & {event.join_code for event in trashed}
    listed = await client.get("/users/current/trash", headers=auth_headers(owner))
    for entry in listed.json()["items"]:
        assert (await restore(client, owner, entry["id"])).status_code == 200
    assert await db.fetchval("SELECT count(DISTINCT join_code) FROM events") == 4 * 19


# --- purge after retention --------------------------------------------------------------------


def _podium_purge(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podium.cli", "purge", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_podium_purge_removes_what_is_past_retention(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, database_url: str
) -> None:
    owner = await make_user()
    old, recent = await make_event(owner, name="Old"), await make_event(owner, name="Recent")
    for event in (old, recent):
        await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    entries = (await client.get("/users/current/trash", headers=auth_headers(owner))).json()
    old_entry = next(entry for entry in entries["items"] if entry["event_id"] == eid(old))
    await db.execute(
        "UPDATE trash SET purge_after = now() - interval '1 second' WHERE item_id = $1", old.pk
    )

    dry = await asyncio.to_thread(_podium_purge, database_url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {old_entry['id']}: event {eid(old)} 'Old'" in dry.stdout
    assert "would remove 1 trash entry" in dry.stdout
    assert await db.fetchval("SELECT count(*) FROM trash") == 2

    done = await asyncio.to_thread(_podium_purge, database_url)
    assert done.returncode == 0, done.stderr
    assert "removed 1 trash entry" in done.stdout
    assert await db.fetchval("SELECT item_id FROM trash") == recent.pk
    reserved = {row["value"] for row in await db.fetch("SELECT value FROM trash_reservations")}
    assert old.slug not in reserved and recent.slug in reserved


async def test_retention_setting_sets_purge_after(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    kept = await db.fetchval("SELECT purge_after - deleted_at FROM trash")
    assert kept.days == 30


# --- permissions --------------------------------------------------------------------------------


async def test_only_the_owner_or_a_superadmin_sees_and_restores_an_entry(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    entry = await only_entry(client, owner)

    theirs = await client.get("/users/current/trash", headers=auth_headers(stranger))
    assert theirs.json()["items"] == []
    assert_error(await restore(client, stranger, entry["id"]), 404, "not_found")
    assert_error(
        await client.post(f"/users/current/trash/{entry['id']}/restore"), 401, "unauthorized"
    )
    assert_error(await client.get("/users/current/trash"), 401, "unauthorized")
    for method, path in (
        ("GET", "/superadmin/trash"),
        ("POST", f"/superadmin/trash/{entry['id']}/restore"),
        ("DELETE", f"/superadmin/trash/{entry['id']}"),
    ):
        for user in (owner, stranger):
            refused = await client.request(method, path, headers=auth_headers(user))
            assert_error(refused, 403, "forbidden")
    assert_error(await restore(client, owner, "t_notanid"), 404, "not_found")
    assert_error(await restore(client, owner, eid(event)), 404, "not_found")

    listed = await client.get("/superadmin/trash", headers=auth_headers(admin))
    assert [item["id"] for item in listed.json()["items"]] == [entry["id"]]
    restored = await client.post(
        f"/superadmin/trash/{entry['id']}/restore", headers=auth_headers(admin)
    )
    assert restored.status_code == 200, restored.text
    assert (await client.get(f"/events/{eid(event)}")).status_code == 200
    assert_error(
        await client.delete(f"/superadmin/trash/{entry['id']}", headers=auth_headers(admin)),
        404,
        "not_found",
    )


async def test_superadmin_pages_through_the_trash(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    admin = await superadmin(make_user, db)
    owner = await make_user()
    for n in range(5):
        event = await make_event(owner, name=f"E{n}")
        await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/superadmin/trash", params=params, headers=auth_headers(admin))
        assert page.status_code == 200, page.text
        seen += [item["name"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"E{n}" for n in range(5)]


async def test_a_non_owner_still_cannot_delete(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    bob = world["users"][1]
    assert_error(
        await client.delete(f"/events/{eid(world['event'])}", headers=auth_headers(bob)),
        403,
        "forbidden",
    )
    assert_error(
        await client.delete(f"/projects/{pid(world['projects'][0])}", headers=auth_headers(bob)),
        403,
        "not_project_owner",
    )
    assert await db.fetchval("SELECT count(*) FROM trash") == 0


# --- account deletion ---------------------------------------------------------------------------


async def test_deleting_an_account_purges_its_trash(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, rover = world["owner"], world["event"], world["projects"][0]
    ada = world["users"][0]
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    assert await db.fetchval("SELECT count(*) FROM trash") == 2

    # A trashed event does not hold the account back (a live one does): it goes with it, and
    # the entries of its projects with it.
    gone = await client.delete("/users/current", headers=auth_headers(owner))

    assert gone.status_code == 204, gone.text
    assert await db.fetchval("SELECT count(*) FROM trash") == 0
    assert await db.fetchval("SELECT count(*) FROM trash_reservations") == 0


async def test_a_value_taken_behind_the_apis_back_makes_the_restore_a_409(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, slug="taken-later")
    await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    # As the backfill would write a new v1 record: straight into the table, no reservation read.
    await make_event(owner, slug="taken-later")

    refused = await restore(client, owner, (await only_entry(client, owner))["id"])

    assert_error(refused, 409, "restore_conflict")
    assert await db.fetchval("SELECT count(*) FROM trash") == 1


async def test_the_owner_restores_a_project_only_while_projects_may_change(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    owner, event, rover = world["owner"], world["event"], world["projects"][0]
    ada = world["users"][0]
    admin = await superadmin(make_user, db)
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    closed = await client.put(
        f"/events/{eid(event)}", json={"phase": "closed"}, headers=auth_headers(owner)
    )
    assert closed.status_code == 200, closed.text
    entry = await only_entry(client, ada)

    assert_error(await restore(client, ada, entry["id"]), 403, "submissions_closed")

    restored = await client.post(
        f"/superadmin/trash/{entry['id']}/restore", headers=auth_headers(admin)
    )
    assert restored.status_code == 200, restored.text
    assert (await points(client, owner, event))[pid(rover)] == 1


async def test_a_project_trash_and_restore_move_the_lists_etag(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    world = await busy_event(make_user, db)
    event, rover, ada = world["event"], world["projects"][0], world["users"][0]

    async def etag() -> str:
        listed = await client.get(f"/events/{eid(event)}/projects")
        assert listed.status_code == 200, listed.text
        return listed.headers["etag"]

    before = await etag()
    await client.delete(f"/projects/{pid(rover)}", headers=auth_headers(ada))
    trashed = await etag()
    await restore(client, ada, (await only_entry(client, ada))["id"])
    restored = await etag()

    assert len({before, trashed, restored}) == 3
