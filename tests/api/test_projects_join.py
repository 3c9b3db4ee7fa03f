"""Joining a project as a collaborator with its join code."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.models import ProjectCollaborator
from podium.public_ids import public_id
from tests.api.conftest import assert_error, attend, make_event, make_project
from tests.conftest import MakeUser, auth_headers


async def test_attendee_joins_a_project_and_gets_the_private_view(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    project = await make_project(ada, event, join_code="RVR7K2")

    response = await client.post(
        "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(grace)
    )

    assert response.status_code == 200, response.text
    joined = response.json()
    assert joined["id"] == public_id(Entity.PROJECT, project.seq)
    assert joined["join_code"] == "RVR7K2"
    assert joined["collaborators"] == [
        {"id": public_id(Entity.USER, grace.seq), "display_name": grace.display_name}
    ]
    assert await db.fetchval("SELECT user_id FROM project_collaborators") == grace.pk


async def test_joined_project_appears_in_my_projects(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    project = await make_project(ada, event, join_code="RVR7K2")

    await client.post("/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(grace))
    mine = await client.get("/projects/mine", headers=auth_headers(grace))

    assert [p["id"] for p in mine.json()] == [public_id(Entity.PROJECT, project.seq)]


@pytest.mark.parametrize("typed", ["rvr7k2", " Rvr7K2 ", "RVR7K2"])
async def test_join_code_is_case_insensitive(
    client: httpx.AsyncClient, make_user: MakeUser, typed: str
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    await make_project(ada, event, join_code="RVR7K2")

    response = await client.post(
        "/projects/join", params={"join_code": typed}, headers=auth_headers(grace)
    )

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("code", ["ZZZZZZ", "RVR7K", "RVR7K2X", "RVR-7K", "ÄÄÄÄÄÄ", "x" * 64])
async def test_unknown_or_malformed_join_code_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, code: str
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    await make_project(ada, event, join_code="RVR7K2")

    response = await client.post(
        "/projects/join", params={"join_code": code}, headers=auth_headers(grace)
    )

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("params", [{}, {"join_code": ""}, {"join_code": "x" * 65}])
async def test_missing_or_oversized_join_code_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, params: dict[str, str]
) -> None:
    response = await client.post(
        "/projects/join", params=params, headers=auth_headers(await make_user())
    )
    assert_error(response, 422, "validation_error")


async def test_joining_requires_a_token(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    event = await make_event(await make_user())
    await make_project(await make_user(), event, join_code="RVR7K2")

    response = await client.post("/projects/join", params={"join_code": "RVR7K2"})

    assert_error(response, 401, "unauthorized")


async def test_non_attendee_cannot_join_and_learns_nothing_of_the_code(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, stranger, organiser = await make_user(), await make_user(), await make_user()
    event = await make_event(organiser)
    await attend(event, ada)
    await make_project(ada, event, join_code="RVR7K2")

    for user in (stranger, organiser):
        response = await client.post(
            "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(user)
        )
        wrong = await client.post(
            "/projects/join", params={"join_code": "NOSUCH"}, headers=auth_headers(user)
        )
        # A real code of an event they do not attend answers exactly as a wrong one (#15).
        assert_error(response, 404, "not_found")
        assert response.json() == wrong.json()
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == 0


async def test_attendee_of_another_event_cannot_join(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, grace = await make_user(), await make_user()
    event, other = await make_event(await make_user()), await make_event(await make_user())
    await attend(event, ada)
    await attend(other, grace)
    await make_project(ada, event, join_code="RVR7K2")

    response = await client.post(
        "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(grace)
    )

    assert_error(response, 404, "not_found")


async def test_owner_cannot_join_their_own_project(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    await make_project(ada, event, join_code="RVR7K2")

    response = await client.post(
        "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(ada)
    )

    assert_error(response, 409, "already_member")


async def test_collaborator_cannot_join_twice(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    project = await make_project(ada, event, join_code="RVR7K2")
    await ProjectCollaborator.objects.create(project=project, user=grace)

    response = await client.post(
        "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(grace)
    )

    assert_error(response, 409, "already_member")
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == 1


async def test_concurrent_joins_by_one_user_store_one_collaborator(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada, grace = await make_user(), await make_user()
    event = await make_event(await make_user())
    await attend(event, ada, grace)
    await make_project(ada, event, join_code="RVR7K2")

    responses = await asyncio.gather(
        *(
            client.post(
                "/projects/join", params={"join_code": "rvr7k2"}, headers=auth_headers(grace)
            )
            for _ in range(10)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * 9, [r.text for r in responses]
    assert all(
        r.json()["error"]["code"] == "already_member" for r in responses if r.status_code == 409
    )
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == 1


async def test_many_users_join_one_project_at_once(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    team = [await make_user() for _ in range(8)]
    event = await make_event(await make_user())
    await attend(event, ada, *team)
    await make_project(ada, event, join_code="RVR7K2")

    responses = await asyncio.gather(
        *(
            client.post(
                "/projects/join", params={"join_code": "RVR7K2"}, headers=auth_headers(member)
            )
            for member in team
        )
    )

    assert [r.status_code for r in responses] == [200] * len(team)
    assert await db.fetchval("SELECT count(*) FROM project_collaborators") == len(team)
