"""The audit trail over HTTP: every recorded action with its actor, role and changes; a change
that fails records nothing; the owner's and the superadmin's reads; the trail outlives the
event and the actor's account."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import asyncpg
import httpx
import pytest

from podium.models import Event, User
from podium.models.audit import ActorRole, AuditAction
from podium.services import audit
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid, uid
from tests.api.test_superadmin import superadmin
from tests.conftest import MakeUser, auth_headers


async def entries(db: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every audit row, oldest first, as stored (`changes` decoded)."""
    found = [dict(row) for row in await db.fetch("SELECT * FROM audit_events ORDER BY seq")]
    return [{**row, "changes": json.loads(row["changes"])} for row in found]


async def only_entry(db: asyncpg.Pool) -> dict[str, Any]:
    found = await entries(db)
    assert len(found) == 1, found
    return found[0]


def assert_actor(entry: dict[str, Any], user: User, role: ActorRole) -> None:
    assert entry["actor_id"] == user.pk
    assert entry["actor_seq"] == user.seq
    assert entry["actor_email"] == user.email
    assert entry["actor_role"] == role.value


def assert_event(entry: dict[str, Any], event: Event, name: str | None = None) -> None:
    assert entry["event_id"] == event.pk
    assert entry["event_seq"] == event.seq
    assert entry["event_name"] == (name or event.name)


# --- PUT /events/{id} ---------------------------------------------------------------------


async def test_an_edit_records_each_changed_field_old_and_new(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, name="Hack Night", phase="submission")
    response = await client.put(
        f"/events/{eid(event)}",
        json={"name": "Hack Day", "description": "", "feature_flags": ["a", "b"]},
        headers=auth_headers(owner),
    )
    assert response.status_code == 200, response.text

    entry = await only_entry(db)
    assert entry["action"] == AuditAction.EVENT_UPDATED
    assert_actor(entry, owner, ActorRole.OWNER)
    assert_event(entry, event, name="Hack Day")
    # The unchanged description is not listed.
    assert entry["changes"] == {
        "name": ["Hack Night", "Hack Day"],
        "feature_flags": [[], ["a", "b"]],
    }


async def test_a_phase_change_is_its_own_action_and_v1_booleans_count(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, phase="submission")
    response = await client.put(
        f"/events/{eid(event)}", json={"votable": True}, headers=auth_headers(owner)
    )
    assert response.status_code == 200, response.text

    entry = await only_entry(db)
    assert entry["action"] == AuditAction.PHASE_CHANGED
    assert entry["changes"] == {"phase": ["submission", "voting"]}


async def test_a_superadmins_edit_is_recorded_as_a_superadmins(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    response = await client.put(
        f"/events/{eid(event)}", json={"live_leaderboard": True}, headers=auth_headers(admin)
    )
    assert response.status_code == 200, response.text
    entry = await only_entry(db)
    assert_actor(entry, admin, ActorRole.SUPERADMIN)
    assert entry["changes"] == {"live_leaderboard": [False, True]}


async def test_an_edit_that_changes_nothing_records_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, name="Same")
    for body in ({}, {"name": "Same"}):
        response = await client.put(f"/events/{eid(event)}", json=body, headers=auth_headers(owner))
        assert response.status_code == 200, response.text
    assert await entries(db) == []


async def test_a_refused_edit_records_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, phase="submission")
    await attend(event, ada)
    headers = auth_headers(owner)
    # 409: back to draft with an attendee, after the row was locked and read.
    back = await client.put(f"/events/{eid(event)}", json={"phase": "draft"}, headers=headers)
    assert_error(back, 409, "event_not_empty")
    # 422: the body is refused before anything is read.
    bad = await client.put(f"/events/{eid(event)}", json={"name": ""}, headers=headers)
    assert bad.status_code == 422
    # 403: not an organiser.
    other = await client.put(f"/events/{eid(event)}", json={"name": "X"}, headers=auth_headers(ada))
    assert other.status_code == 403
    assert await entries(db) == []


async def test_concurrent_edits_each_record_what_the_other_left(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, name="Start")
    url, headers = f"/events/{eid(event)}", auth_headers(owner)
    responses = await asyncio.gather(
        *(client.put(url, json={"name": f"Name {n}"}, headers=headers) for n in range(4))
    )
    assert all(response.status_code == 200 for response in responses)
    # Each edit's "before" is the previous edit's "after": the row is read under its lock.
    changes = [entry["changes"]["name"] for entry in await entries(db)]
    assert len(changes) == 4
    assert changes[0][0] == "Start"
    assert all(changes[n][0] == changes[n - 1][1] for n in range(1, 4))


# --- deletes --------------------------------------------------------------------------------


async def test_an_event_delete_is_recorded_and_the_trail_outlives_the_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, name="Gone Soon")
    await client.put(f"/events/{eid(event)}", json={"name": "Gone"}, headers=auth_headers(owner))
    response = await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    assert response.status_code == 204, response.text

    deleted = (await entries(db))[-1]
    assert deleted["action"] == AuditAction.EVENT_DELETED
    assert_actor(deleted, owner, ActorRole.OWNER)
    assert_event(deleted, event, name="Gone")
    trail = await client.get(
        "/superadmin/audit", params={"event": eid(event)}, headers=auth_headers(admin)
    )
    assert trail.status_code == 200, trail.text
    assert [item["action"] for item in trail.json()["items"]] == ["event_updated", "event_deleted"]
    assert trail.json()["items"][1]["event"] == {"id": eid(event), "name": "Gone"}


async def test_an_organisers_project_delete_is_recorded_a_participants_is_not(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, phase="submission")
    await attend(event, owner, ada)
    theirs = await make_project(ada, event, name="Ada's")
    own = await make_project(owner, event, name="Organiser's")

    participant = await client.delete(f"/projects/{pid(theirs)}", headers=auth_headers(ada))
    assert participant.status_code == 204, participant.text
    assert await entries(db) == []

    organiser = await client.delete(f"/projects/{pid(own)}", headers=auth_headers(owner))
    assert organiser.status_code == 204, organiser.text
    entry = await only_entry(db)
    assert entry["action"] == AuditAction.PROJECT_DELETED
    assert_actor(entry, owner, ActorRole.OWNER)
    assert_event(entry, event)
    assert (entry["target_kind"], entry["target_seq"]) == ("project", own.seq)
    assert entry["changes"] == {"name": ["Organiser's", None]}


# --- the trash: restore and purge ---------------------------------------------------------------


async def _only_trash_id(client: httpx.AsyncClient, user: User) -> str:
    listed = await client.get("/users/current/trash", headers=auth_headers(user))
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    return str(item["id"])


async def test_an_event_restore_is_recorded_with_what_came_back(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, name="Back Again", phase="submission")
    await attend(event, owner, ada)
    await make_project(ada, event)
    assert (
        await client.delete(f"/events/{eid(event)}", headers=auth_headers(owner))
    ).status_code == 204
    trash_id = await _only_trash_id(client, owner)

    response = await client.post(
        f"/users/current/trash/{trash_id}/restore", headers=auth_headers(owner)
    )
    assert response.status_code == 200, response.text

    deleted, restored = await entries(db)
    assert deleted["action"] == AuditAction.EVENT_DELETED
    assert restored["action"] == AuditAction.EVENT_RESTORED
    assert_actor(restored, owner, ActorRole.OWNER)
    assert_event(restored, event)
    assert restored["changes"]["restored"] == response.json()["restored"]
    assert restored["changes"]["restored"]["projects"] == 1
    assert restored["changes"]["votes_over_limit"] == 0


async def test_a_participants_own_restore_is_not_recorded_a_superadmins_purge_is(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, phase="submission")
    await attend(event, owner, ada)
    project = await make_project(ada, event, name="Ada's")

    assert (
        await client.delete(f"/projects/{pid(project)}", headers=auth_headers(ada))
    ).status_code == 204
    trash_id = await _only_trash_id(client, ada)
    restored = await client.post(
        f"/users/current/trash/{trash_id}/restore", headers=auth_headers(ada)
    )
    assert restored.status_code == 200, restored.text
    assert await entries(db) == []  # neither her delete nor her restore is an organiser's

    assert (
        await client.delete(f"/projects/{pid(project)}", headers=auth_headers(ada))
    ).status_code == 204
    trash_id = await _only_trash_id(client, ada)
    purged = await client.delete(f"/superadmin/trash/{trash_id}", headers=auth_headers(admin))
    assert purged.status_code == 204, purged.text

    entry = await only_entry(db)
    assert entry["action"] == AuditAction.TRASH_PURGED
    assert_actor(entry, admin, ActorRole.SUPERADMIN)
    assert_event(entry, event)
    assert (entry["target_kind"], entry["target_seq"]) == ("project", project.seq)
    assert entry["changes"] == {"name": ["Ada's", None]}


async def test_a_refused_project_delete_records_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, phase="closed")
    await attend(event, owner)
    project = await make_project(owner, event)
    response = await client.delete(f"/projects/{pid(project)}", headers=auth_headers(owner))
    assert response.status_code == 403, response.text
    assert await entries(db) == []


# --- remove-attendee ------------------------------------------------------------------------


async def test_removing_an_attendee_is_recorded_with_them_as_target(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada, bob = await make_user(), await make_user(), await make_user()
    event = await make_event(owner)
    await attend(event, ada)
    url = f"/events/admin/{eid(event)}/remove-attendee"
    # 400: Bob does not attend; nothing recorded.
    refused = await client.post(url, json={"user": uid(bob)}, headers=auth_headers(owner))
    assert_error(refused, 400, "not_attending")
    assert await entries(db) == []

    removed = await client.post(url, json={"user": uid(ada)}, headers=auth_headers(owner))
    assert removed.status_code == 204, removed.text
    entry = await only_entry(db)
    assert entry["action"] == AuditAction.ATTENDEE_REMOVED
    assert_actor(entry, owner, ActorRole.OWNER)
    assert (entry["target_kind"], entry["target_seq"]) == ("user", ada.seq)


# --- superadmin actions ---------------------------------------------------------------------


async def test_an_ownership_transfer_records_former_and_new_owner(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, heir = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    url = f"/superadmin/events/{eid(event)}/owner"
    unknown = await client.post(
        url, json={"owner": uid(heir)[:-1] + "x"}, headers=auth_headers(admin)
    )
    assert unknown.status_code in (404, 422)
    assert await entries(db) == []

    moved = await client.post(url, json={"owner": uid(heir)}, headers=auth_headers(admin))
    assert moved.status_code == 200, moved.text
    entry = await only_entry(db)
    assert entry["action"] == AuditAction.OWNER_TRANSFERRED
    assert_actor(entry, admin, ActorRole.SUPERADMIN)
    assert_event(entry, event)
    assert (entry["target_kind"], entry["target_seq"]) == ("user", heir.seq)
    assert entry["changes"] == {"owner": [uid(owner), uid(heir)]}


async def test_a_transfer_to_a_deleted_user_records_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, gone = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    await db.execute("DELETE FROM users WHERE id = $1", gone.pk)
    response = await client.post(
        f"/superadmin/events/{eid(event)}/owner",
        json={"owner": uid(gone)},
        headers=auth_headers(admin),
    )
    assert_error(response, 404, "not_found")
    assert await entries(db) == []


async def test_concurrent_transfers_chain_in_the_trail(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    heirs = [await make_user() for _ in range(3)]
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    url, headers = f"/superadmin/events/{eid(event)}/owner", auth_headers(admin)
    responses = await asyncio.gather(
        *(client.post(url, json={"owner": uid(heir)}, headers=headers) for heir in heirs)
    )
    assert all(response.status_code == 200 for response in responses)
    owners = [entry["changes"]["owner"] for entry in await entries(db)]
    # The event row is locked while the former owner is read: no two entries replace the same.
    assert owners[0][0] == uid(owner), owners
    assert all(owners[n][0] == owners[n - 1][1] for n in range(1, 3)), owners


async def test_creating_an_event_for_someone_is_recorded(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    ada = await make_user()
    admin = await superadmin(make_user, db)
    body = {"name": "For Ada", "owner": uid(ada)}
    created = await client.post("/superadmin/events", json=body, headers=auth_headers(admin))
    assert created.status_code == 201, created.text
    entry = await only_entry(db)
    assert entry["action"] == AuditAction.EVENT_CREATED_FOR
    assert_actor(entry, admin, ActorRole.SUPERADMIN)
    assert entry["event_name"] == "For Ada"
    assert (entry["target_kind"], entry["target_seq"]) == ("user", ada.seq)
    assert entry["changes"] == {}

    # 409: the same slug again; the insert fails, and its entry is never written.
    again = await client.post("/superadmin/events", json=body, headers=auth_headers(admin))
    assert_error(again, 409, "slug_taken")
    assert len(await entries(db)) == 1


# --- feature flags --------------------------------------------------------------------------


async def test_feature_flags_from_superadmin_are_audited_and_move_the_etag(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner, feature_flags=["old"])
    projects = await client.get(f"/events/{eid(event)}/projects")
    before = projects.headers["etag"]

    url = f"/superadmin/events/{eid(event)}/feature-flags"
    body = {"feature_flags": ["beta", "beta", "judges"]}
    response = await client.put(url, json=body, headers=auth_headers(admin))
    assert response.status_code == 200, response.text
    assert response.json()["feature_flags"] == ["beta", "judges"]
    assert response.json()["join_code"] == event.join_code  # the owner's view of the event

    entry = await only_entry(db)
    assert entry["action"] == AuditAction.FEATURE_FLAGS_CHANGED
    assert_actor(entry, admin, ActorRole.SUPERADMIN)
    assert entry["changes"] == {"feature_flags": [["old"], ["beta", "judges"]]}
    after = await client.get(f"/events/{eid(event)}/projects")
    assert after.headers["etag"] != before

    # The same flags again change nothing and record nothing.
    same = await client.put(
        url, json={"feature_flags": ["beta", "judges"]}, headers=auth_headers(admin)
    )
    assert same.status_code == 200
    assert len(await entries(db)) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"feature_flags": ["not a flag"]},
        {"feature_flags": ["x" * 65]},
        {"feature_flags": [f"f{n}" for n in range(51)]},
        {"feature_flags": "beta"},
        {},
    ],
)
async def test_invalid_feature_flags_are_422_and_unrecorded(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, body: dict[str, Any]
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    response = await client.put(
        f"/superadmin/events/{eid(event)}/feature-flags", json=body, headers=auth_headers(admin)
    )
    assert_error(response, 422, "validation_error")
    assert await entries(db) == []


async def test_feature_flags_route_is_for_superadmins_only(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    response = await client.put(
        f"/superadmin/events/{eid(event)}/feature-flags",
        json={"feature_flags": ["beta"]},
        headers=auth_headers(owner),
    )
    assert_error(response, 403, "forbidden")


# --- exports --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "rows"), [("projects", 2), ("votes", 1), ("attendees", 2), ("referrals", 0)]
)
async def test_each_export_is_recorded_with_its_row_count(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, export: str, rows: int
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, phase="voting")
    await attend(event, owner, ada)
    mine = await make_project(owner, event)
    await make_project(ada, event)
    await db.execute(
        "INSERT INTO votes (event_id, project_id, voter_id) VALUES ($1, $2, $3)",
        event.pk,
        mine.pk,
        ada.pk,
    )
    response = await client.get(
        f"/events/admin/{eid(event)}/export/{export}.csv", headers=auth_headers(owner)
    )
    assert response.status_code == 200, response.text
    entry = await only_entry(db)
    assert entry["action"] == AuditAction.EXPORTED
    assert_actor(entry, owner, ActorRole.OWNER)
    assert_event(entry, event)
    assert entry["changes"] == {"export": export, "rows": rows}


async def test_a_refused_export_records_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, outsider = await make_user(), await make_user()
    event = await make_event(owner)
    response = await client.get(
        f"/events/admin/{eid(event)}/export/attendees.csv", headers=auth_headers(outsider)
    )
    assert response.status_code == 403
    assert await entries(db) == []


async def test_the_superadmin_export_records_one_entry_per_event(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    first, second = await make_event(owner, name="One"), await make_event(owner, name="Two")
    await attend(first, owner)
    await make_project(owner, first)
    response = await client.get(
        "/superadmin/export/projects.csv",
        params=[("event", eid(first)), ("event", eid(second))],
        headers=auth_headers(admin),
    )
    assert response.status_code == 200, response.text
    found = await entries(db)
    assert [(entry["event_seq"], entry["changes"]) for entry in found] == [
        (first.seq, {"export": "projects", "rows": 1, "events": 2}),
        (second.seq, {"export": "projects", "rows": 0, "events": 2}),
    ]
    assert all(entry["actor_role"] == "superadmin" for entry in found)


# --- the CLI --------------------------------------------------------------------------------


async def test_podium_admin_grant_and_revoke_are_recorded_as_the_cli(
    database_url: str, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    ada = await make_user(email="ada@example.com")
    for action in ("grant", "revoke"):
        finished = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "podium.cli", "admin", action, "ada@example.com"],
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert finished.returncode == 0, finished.stderr
    granted, revoked = await entries(db)
    assert [granted["action"], revoked["action"]] == ["superadmin_granted", "superadmin_revoked"]
    for entry in (granted, revoked):
        assert entry["actor_role"] == "cli"
        assert entry["actor_id"] is None and entry["actor_email"] is None
        assert entry["event_id"] is None
        assert (entry["target_kind"], entry["target_seq"]) == ("user", ada.seq)


# --- what the trail keeps and hides ---------------------------------------------------------


async def test_the_trail_keeps_the_actors_email_after_their_account_is_deleted(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    admin = await superadmin(make_user, db)
    event = await make_event(owner)
    await client.put(f"/events/{eid(event)}", json={"name": "Renamed"}, headers=auth_headers(admin))
    gone = await client.delete("/users/current", headers=auth_headers(admin))
    assert gone.status_code == 204, gone.text

    entry = await only_entry(db)
    assert entry["actor_id"] is None
    assert entry["actor_email"] == admin.email
    trail = await client.get(f"/events/admin/{eid(event)}/audit", headers=auth_headers(owner))
    assert trail.json()["items"][0]["actor"] == {
        "id": uid(admin),
        "email": admin.email,
        "role": "superadmin",
    }


async def test_join_codes_never_enter_the_trail(
    app: object, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    database = app.state.database  # type: ignore[attr-defined]
    async with database.transaction() as tx:
        await audit.record(
            tx,
            audit.Actor.organiser(owner, event),
            AuditAction.EVENT_UPDATED,
            event=audit.AuditedEvent.of(event),
            changes={"join_code": ["ABC123", "XYZ789"], "name": ["a", "b"]},
        )
    entry = await only_entry(db)
    assert entry["changes"] == {"join_code": "changed", "name": ["a", "b"]}


# --- reads ----------------------------------------------------------------------------------


async def test_the_owners_trail_is_their_events_only_paged_oldest_first(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, other = await make_user(), await make_user()
    event, elsewhere = await make_event(owner, name="N0"), await make_event(other)
    headers = auth_headers(owner)
    for n in range(1, 4):
        await client.put(f"/events/{eid(event)}", json={"name": f"N{n}"}, headers=headers)
    await client.put(f"/events/{eid(elsewhere)}", json={"name": "X"}, headers=auth_headers(other))

    url = f"/events/admin/{eid(event)}/audit"
    seen: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await client.get(url, params=params, headers=headers)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [item["changes"]["name"] for item in seen] == [["N0", "N1"], ["N1", "N2"], ["N2", "N3"]]
    assert seen[0]["event"] == {"id": eid(event), "name": "N1"}
    assert seen[0]["actor"] == {"id": uid(owner), "email": owner.email, "role": "owner"}
    assert seen[0]["target"] is None and seen[0]["target_kind"] is None

    refused = await client.get(url, headers=auth_headers(other))
    assert_error(refused, 403, "forbidden")
    bad = await client.get(url, params={"cursor": "nope"}, headers=headers)
    assert_error(bad, 422, "invalid_cursor")


async def test_the_superadmin_trail_filters_by_event_actor_and_action(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    admin = await superadmin(make_user, db)
    event, other = await make_event(owner), await make_event(owner)
    await attend(event, ada)
    await client.put(f"/events/{eid(event)}", json={"name": "A"}, headers=auth_headers(owner))
    await client.put(f"/events/{eid(other)}", json={"name": "B"}, headers=auth_headers(admin))
    await client.post(
        f"/events/admin/{eid(event)}/remove-attendee",
        json={"user": uid(ada)},
        headers=auth_headers(admin),
    )
    headers = auth_headers(admin)

    async def actions(**params: str) -> list[str]:
        response = await client.get("/superadmin/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["action"] for item in response.json()["items"]]

    assert await actions() == ["event_updated", "event_updated", "attendee_removed"]
    assert await actions(event=eid(event)) == ["event_updated", "attendee_removed"]
    assert await actions(actor=uid(admin)) == ["event_updated", "attendee_removed"]
    assert await actions(action="attendee_removed") == ["attendee_removed"]
    assert await actions(event=eid(event), actor=uid(owner)) == ["event_updated"]
    removed = await client.get(
        "/superadmin/audit", params={"action": "attendee_removed"}, headers=headers
    )
    assert removed.json()["items"][0]["target"] == uid(ada)
    assert removed.json()["items"][0]["target_kind"] == "user"

    for params in ({"event": "nonsense"}, {"actor": eid(event)}, {"action": "nope"}):
        bad = await client.get("/superadmin/audit", params=params, headers=headers)
        assert_error(bad, 422, "validation_error")
    refused = await client.get("/superadmin/audit", headers=auth_headers(owner))
    assert_error(refused, 403, "forbidden")
