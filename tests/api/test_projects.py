"""Projects over HTTP: create, read, update, delete and the caller's own projects."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.models import Event, ProjectCollaborator, Vote
from podium.public_ids import public_id
from podium.services import join_codes
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid, uid
from tests.conftest import MakeUser, auth_headers


def body(for_event: Event, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Rover",
        "repo": "https://github.com/ada/rover",
        "image_url": "https://example.com/rover.png",
        "demo": "https://rover.example.com",
        "description": "A small robot",
        "hours_spent": 12,
        "event": eid(for_event),
        **overrides,
    }


# --- create -------------------------------------------------------------------------------


async def test_attendee_creates_a_project_and_gets_the_private_view(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user(first_name="Ada", last_name="Lovelace")
    event = await make_event(await make_user())
    await attend(event, ada)

    response = await client.post("/projects/", json=body(event), headers=auth_headers(ada))

    assert response.status_code == 201, response.text
    project = response.json()
    assert project["id"].startswith("p_")
    assert project["name"] == "Rover"
    assert project["repo"] == "https://github.com/ada/rover"
    assert project["demo"] == "https://rover.example.com/"
    assert project["hours_spent"] == 12
    assert project["event_id"] == eid(event)
    assert project["owner"] == {"id": uid(ada), "display_name": "Ada L."}
    assert project["collaborators"] == []
    assert project["points"] is None  # the leaderboard is not enabled
    assert project["cached_auto_quality"] is None
    code = project["join_code"]
    # Not `code.isupper()`: a code of digits only (about 1 in 3,300) has no upper-case letter.
    assert len(code) == 6 and set(code) <= set(join_codes.JOIN_CODE_ALPHABET)
    stored = await db.fetchrow("SELECT name, join_code, event_id FROM projects")
    assert (stored["name"], stored["join_code"], stored["event_id"]) == ("Rover", code, event.pk)


async def test_a_join_code_clash_is_retried_with_a_fresh_code(
    client: httpx.AsyncClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    await make_project(ada, event, join_code="AAAAAA")
    codes = iter(["AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(join_codes, "new_join_code", lambda: next(codes))

    response = await client.post("/projects/", json=body(event), headers=auth_headers(ada))

    assert response.status_code == 201, response.text
    assert response.json()["join_code"] == "BBBBBB"


async def test_created_project_is_readable_at_its_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    created = (await client.post("/projects/", json=body(event), headers=auth_headers(ada))).json()

    response = await client.get(f"/projects/{created['id']}")

    assert response.status_code == 200
    assert response.json()["name"] == "Rover"
    assert "join_code" not in response.json()


async def test_creating_a_project_requires_a_token(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await make_event(await make_user())
    assert_error(await client.post("/projects/", json=body(event)), 401, "unauthorized")


async def test_non_attendee_cannot_create_a_project(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    stranger = await make_user()
    event = await make_event(await make_user())

    response = await client.post("/projects/", json=body(event), headers=auth_headers(stranger))

    assert_error(response, 403, "not_attending")
    assert await db.fetchval("SELECT count(*) FROM projects") == 0


async def test_event_owner_must_attend_to_create_a_project(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)

    response = await client.post("/projects/", json=body(event), headers=auth_headers(owner))
    assert_error(response, 403, "not_attending")

    await attend(event, owner)
    response = await client.post("/projects/", json=body(event), headers=auth_headers(owner))
    assert response.status_code == 201


async def test_creating_a_project_for_an_unknown_event_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    unknown = public_id(Entity.EVENT, event.seq + 1000)

    response = await client.post(
        "/projects/", json=body(event, event=unknown), headers=auth_headers(ada)
    )

    assert_error(response, 404, "not_found")


async def test_event_field_must_be_an_event_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    project = await make_project(ada, event)

    for wrong in (pid(project), uid(ada), "recABCDEFGHIJKLMN", "", "x" * 10_000, 5):
        response = await client.post(
            "/projects/", json=body(event, event=wrong), headers=auth_headers(ada)
        )
        assert_error(response, 422, "validation_error")


async def test_demo_is_required_unless_the_event_makes_it_optional(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    strict = await make_event(await make_user())
    relaxed = await make_event(await make_user(), demo_links_optional=True)
    await attend(strict, ada)
    await attend(relaxed, ada)

    for demo in ("", None, "   "):
        response = await client.post(
            "/projects/", json=body(strict, demo=demo), headers=auth_headers(ada)
        )
        assert_error(response, 400, "demo_required")
    without = body(relaxed)
    del without["demo"]
    response = await client.post("/projects/", json=without, headers=auth_headers(ada))
    assert response.status_code == 201
    assert response.json()["demo"] == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 201),
        ("name", "nul\x00byte"),
        ("name", "lone \ud800 surrogate"),
        ("name", None),
        ("repo", "github.com/ada/rover"),
        ("repo", "ftp://example.com/rover"),
        ("repo", "javascript:alert(1)"),
        ("repo", "https://example.com/" + "a" * 2048),
        ("repo", ""),
        ("image_url", "file:///etc/passwd"),
        ("image_url", None),
        ("demo", "data:text/html,hi"),
        ("description", "x" * 5001),
        ("description", "nul\x00byte"),
        ("hours_spent", -1),
        ("hours_spent", 10_001),
        ("hours_spent", 2**31),
        ("hours_spent", 10**30),
        ("hours_spent", 1.5),
        ("hours_spent", True),
        ("hours_spent", "12"),
        ("join_code", "ABCDEF"),
        ("owner", "u_xxxxxxx"),
    ],
)
async def test_invalid_project_fields_are_422(
    client: httpx.AsyncClient, make_user: MakeUser, field: str, value: Any
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)

    # ASCII-escaped JSON, so a lone surrogate reaches the server as JSON allows it.
    content = json.dumps(body(event, **{field: value}))
    headers = {**auth_headers(ada), "Content-Type": "application/json"}

    response = await client.post("/projects/", content=content, headers=headers)

    assert_error(response, 422, "validation_error")


async def test_limits_are_inclusive(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    long_url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))

    response = await client.post(
        "/projects/",
        json=body(
            event,
            name="x" * 200,
            description="y" * 5000,
            hours_spent=10_000,
            repo=long_url,
        ),
        headers=auth_headers(ada),
    )

    assert response.status_code == 201, response.text
    assert response.json()["repo"] == long_url


# --- read ---------------------------------------------------------------------------------


async def test_anyone_reads_a_project_with_owner_and_collaborator_names(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user(first_name="Ada", last_name="Lovelace")
    grace = await make_user(first_name="Grace", last_name="Hopper")
    event = await make_event(await make_user())
    project = await make_project(ada, event, repo="https://r.example/", hours_spent=3)
    await ProjectCollaborator.objects.create(project=project, user=grace)

    response = await client.get(f"/projects/{pid(project)}")

    assert response.status_code == 200
    assert response.json() == {
        "id": pid(project),
        "name": "Rover",
        "repo": "https://r.example/",
        "image_url": "",
        "demo": "",
        "description": "",
        "hours_spent": 3,
        "event_id": eid(event),
        "owner": {"id": uid(ada), "display_name": "Ada L."},
        "collaborators": [{"id": uid(grace), "display_name": "Grace H."}],
        "points": None,
    }


async def test_project_points_equal_its_votes_once_the_leaderboard_is_enabled(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    event = await make_event(await make_user())
    project = await make_project(await make_user(), event)
    voters = [await make_user() for _ in range(3)]
    await attend(event, *voters)
    for voter in voters:
        await Vote.objects.create(voter=voter, project=project, event=event)

    assert (await client.get(f"/projects/{pid(project)}")).json()["points"] is None
    await db.execute("UPDATE events SET live_leaderboard = true")
    assert (await client.get(f"/projects/{pid(project)}")).json()["points"] == 3


@pytest.mark.parametrize("bad_id", ["nope", "p_", "P_AAAAAAA", "x" * 5000, "%00"])
async def test_malformed_project_ids_are_404(client: httpx.AsyncClient, bad_id: str) -> None:
    assert_error(await client.get(f"/projects/{bad_id}"), 404, "not_found")


async def test_an_event_id_is_not_a_project_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    await make_project(ada, event)

    assert_error(await client.get(f"/projects/{eid(event)}"), 404, "not_found")
    response = await client.put(
        f"/projects/{eid(event)}", json=body(event), headers=auth_headers(ada)
    )
    assert_error(response, 404, "not_found")


async def test_unknown_project_is_404(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    event = await make_event(await make_user())
    project = await make_project(await make_user(), event)

    response = await client.get(f"/projects/{public_id(Entity.PROJECT, project.seq + 1)}")

    assert_error(response, 404, "not_found")


async def test_a_v1_record_id_redirects_to_the_short_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await make_event(await make_user())
    project = await make_project(await make_user(), event, airtable_id="recAAAAAAAAAAAAAA")

    response = await client.get("/projects/recAAAAAAAAAAAAAA")

    assert response.status_code == 308
    assert response.headers["location"] == f"/projects/{pid(project)}"


# --- mine ---------------------------------------------------------------------------------


async def test_my_projects_lists_owned_and_collaborating_projects_with_join_codes(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    owned = await make_project(ada, event, name="Owned")
    joined = await make_project(grace, event, name="Joined")
    await make_project(grace, event, name="Not mine")
    await ProjectCollaborator.objects.create(project=joined, user=ada)

    response = await client.get("/projects/mine", headers=auth_headers(ada))

    assert response.status_code == 200
    listed = response.json()
    assert [p["id"] for p in listed] == [pid(owned), pid(joined)]
    assert [p["join_code"] for p in listed] == [owned.join_code, joined.join_code]
    assert listed[1]["collaborators"] == [{"id": uid(ada), "display_name": ada.display_name}]


async def test_my_projects_is_empty_for_a_new_user(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    response = await client.get("/projects/mine", headers=auth_headers(await make_user()))
    assert response.status_code == 200
    assert response.json() == []


async def test_my_projects_requires_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/projects/mine"), 401, "unauthorized")


# --- update -------------------------------------------------------------------------------


async def test_owner_updates_the_project(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    project = await make_project(ada, event)
    update = body(event, name="Rover 2", hours_spent=20)
    del update["event"]

    response = await client.put(f"/projects/{pid(project)}", json=update, headers=auth_headers(ada))

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Rover 2"
    assert response.json()["join_code"] == project.join_code
    await project.load()
    assert (project.name, project.hours_spent) == ("Rover 2", 20)


async def test_event_cannot_change_on_update(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event, other = await make_event(await make_user()), await make_event(await make_user())
    project = await make_project(ada, event)

    response = await client.put(
        f"/projects/{pid(project)}", json=body(other), headers=auth_headers(ada)
    )

    assert_error(response, 422, "validation_error")
    await project.load()
    assert project.event.pk == event.pk


async def test_update_checks_the_demo_rule(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    project = await make_project(ada, event)
    update = body(event, demo="")
    del update["event"]

    response = await client.put(f"/projects/{pid(project)}", json=update, headers=auth_headers(ada))

    assert_error(response, 400, "demo_required")


async def test_only_the_owner_may_update(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    ada, collaborator, attendee, organiser = [await make_user() for _ in range(4)]
    event = await make_event(organiser)
    await attend(event, ada, collaborator, attendee)
    project = await make_project(ada, event)
    await ProjectCollaborator.objects.create(project=project, user=collaborator)
    update = body(event, name="Hijacked")
    del update["event"]

    for user in (collaborator, attendee, organiser):
        response = await client.put(
            f"/projects/{pid(project)}", json=update, headers=auth_headers(user)
        )
        assert_error(response, 403, "not_project_owner")
    anonymous = await client.put(f"/projects/{pid(project)}", json=update)
    assert_error(anonymous, 401, "unauthorized")
    await project.load()
    assert project.name == "Rover"


# --- delete -------------------------------------------------------------------------------


async def test_owner_deletes_the_project_with_its_collaborators_and_votes(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, grace, voter = await make_user(), await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, voter)
    project = await make_project(ada, event)
    await ProjectCollaborator.objects.create(project=project, user=grace)
    await Vote.objects.create(voter=voter, project=project, event=event)

    response = await client.delete(f"/projects/{pid(project)}", headers=auth_headers(ada))

    assert response.status_code == 204
    assert response.content == b""
    assert await db.fetchval("SELECT count(*) FROM projects") == 0
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == 0
    assert await db.fetchval("SELECT count(*) FROM votes") == 0
    assert_error(await client.get(f"/projects/{pid(project)}"), 404, "not_found")


async def test_only_the_owner_may_delete(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, collaborator, stranger, organiser = [await make_user() for _ in range(4)]
    event = await make_event(organiser)
    project = await make_project(ada, event)
    await ProjectCollaborator.objects.create(project=project, user=collaborator)

    for user in (collaborator, stranger, organiser):
        response = await client.delete(f"/projects/{pid(project)}", headers=auth_headers(user))
        assert_error(response, 403, "not_project_owner")
    assert_error(await client.delete(f"/projects/{pid(project)}"), 401, "unauthorized")
    assert await db.fetchval("SELECT count(*) FROM projects") == 1


async def test_someone_elses_valid_project_id_cannot_be_deleted(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, mallory = await make_user(), await make_user()
    event = await make_event(await make_user())
    await make_project(mallory, event)
    theirs = await make_project(ada, event)

    response = await client.delete(f"/projects/{pid(theirs)}", headers=auth_headers(mallory))

    assert_error(response, 403, "not_project_owner")
