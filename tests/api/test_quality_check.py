"""Quality checks, proxied to the review service (a real HTTP fake on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from podium.config import Settings
from podium.ids import Entity
from podium.models import Event, Project, ProjectCollaborator, User
from podium.public_ids import public_id
from podium.services import review
from podium_devtools.fake_review import FakeReviewService
from tests.api.conftest import assert_error, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers


@pytest.fixture
def review_service(app: FastAPI, settings: Settings) -> Iterator[FakeReviewService]:
    """The fake review service, configured as the app's review factory for this test."""
    with FakeReviewService() as fake:
        app.state.settings = settings.model_copy(
            update={
                "review_factory_url": fake.url,
                "review_factory_token": SecretStr(fake.token),
            }
        )
        try:
            yield fake
        finally:
            app.state.settings = settings


async def make_project_with_links(
    owner: User, organiser: User | None = None, **fields: Any
) -> Project:
    """A project with every link a check sends, in an event of its own."""
    return await make_project(
        owner,
        await make_event(organiser or owner),
        repo="https://github.com/ada/rover",
        demo="https://rover.example.com/",
        image_url="https://example.com/rover.png",
        description="A small robot",
        **fields,
    )


async def start(client: httpx.AsyncClient, project: Project, user: User) -> httpx.Response:
    return await client.post(
        "/projects/check/start", json={"project": pid(project)}, headers=auth_headers(user)
    )


# --- starting a check ---------------------------------------------------------------------


async def test_owner_starts_a_check_with_the_projects_links_and_the_token(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)

    response = await start(client, project, ada)

    assert response.status_code == 200, response.text
    check = response.json()
    assert check["status"] == "pending"
    assert check["project_id"] == pid(project)
    assert check["cached"] is False
    assert check["result"] is None
    assert check["check_id"] in review_service.checks
    [sent] = review_service.requests
    assert (sent.method, sent.path) == ("POST", "/checks")
    assert sent.headers["authorization"] == f"Bearer {review_service.token}"
    assert sent.json == {
        "reference": pid(project),
        "name": "Rover",
        "repo": "https://github.com/ada/rover",
        "demo": "https://rover.example.com/",
        "image_url": "https://example.com/rover.png",
        "description": "A small robot",
    }


async def test_collaborator_may_start_a_check(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada, grace = await make_user(), await make_user()
    project = await make_project_with_links(ada)
    await ProjectCollaborator.objects.create(project=project, user=grace)

    response = await start(client, project, grace)

    assert response.status_code == 200, response.text


async def test_only_members_may_start_a_check(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada, stranger, organiser = await make_user(), await make_user(), await make_user()
    project = await make_project_with_links(ada, organiser)

    for user in (stranger, organiser):
        assert_error(await start(client, project, user), 403, "not_project_member")
    anonymous = await client.post("/projects/check/start", json={"project": pid(project)})
    assert_error(anonymous, 401, "unauthorized")
    assert review_service.requests == []


async def test_starting_a_check_of_an_unknown_project_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    unknown = public_id(Entity.PROJECT, project.seq + 1)

    response = await client.post(
        "/projects/check/start", json={"project": unknown}, headers=auth_headers(ada)
    )

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "payload",
    [{}, {"project": "nope"}, {"project": None}, {"project": "p_1", "extra": 1}, {"event": "x"}],
)
async def test_start_needs_a_project_id(
    client: httpx.AsyncClient, make_user: MakeUser, payload: dict[str, Any]
) -> None:
    response = await client.post(
        "/projects/check/start", json=payload, headers=auth_headers(await make_user())
    )
    assert_error(response, 422, "validation_error")


async def test_an_event_id_is_not_a_project_to_check(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    event_id = public_id(Entity.EVENT, (await Event.objects.get(pk=project.event.pk)).seq)

    response = await client.post(
        "/projects/check/start", json={"project": event_id}, headers=auth_headers(ada)
    )

    assert_error(response, 422, "validation_error")


async def test_a_stored_result_is_returned_without_calling_the_service(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada, cached_auto_quality={"score": 9})

    response = await start(client, project, ada)

    assert response.status_code == 200
    assert response.json() == {
        "check_id": None,
        "project_id": pid(project),
        "status": "done",
        "result": {"score": 9},
        "cached": True,
    }
    assert review_service.requests == []


async def test_a_stored_result_is_returned_even_without_a_configured_service(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada, cached_auto_quality={"score": 9})

    response = await start(client, project, ada)

    assert response.status_code == 200
    assert response.json()["result"] == {"score": 9}


# --- reading a check ----------------------------------------------------------------------


async def test_polling_a_finished_check_stores_its_result(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    db: asyncpg.Pool,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]

    pending = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))
    assert pending.status_code == 200, pending.text
    assert pending.json()["status"] == "pending"
    assert await db.fetchval("SELECT cached_auto_quality FROM projects") is None

    review_service.finish(check_id, {"score": 7, "notes": ["has a demo"]})
    done = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert done.status_code == 200
    assert done.json() == {
        "check_id": check_id,
        "project_id": pid(project),
        "status": "done",
        "result": {"score": 7, "notes": ["has a demo"]},
        "cached": False,
    }
    assert review_service.requests[-1].path == f"/checks/{check_id}"
    assert review_service.requests[-1].headers["authorization"] == f"Bearer {review_service.token}"
    private = (await client.get("/projects/mine", headers=auth_headers(ada))).json()
    assert private[0]["cached_auto_quality"] == {"score": 7, "notes": ["has a demo"]}

    # From now on starting a check answers from the stored result.
    requests_so_far = len(review_service.requests)
    again = await start(client, project, ada)
    assert again.json()["cached"] is True
    assert len(review_service.requests) == requests_so_far


async def test_a_failed_check_is_reported_and_not_stored(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    db: asyncpg.Pool,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]
    review_service.fail_check(check_id)

    response = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["result"]) == ("failed", None)
    assert await db.fetchval("SELECT cached_auto_quality FROM projects") is None


async def test_only_members_may_read_a_check(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada, grace, stranger = await make_user(), await make_user(), await make_user()
    project = await make_project_with_links(ada)
    await ProjectCollaborator.objects.create(project=project, user=grace)
    check_id = (await start(client, project, ada)).json()["check_id"]

    ok = await client.get(f"/projects/check/{check_id}", headers=auth_headers(grace))
    assert ok.status_code == 200
    denied = await client.get(f"/projects/check/{check_id}", headers=auth_headers(stranger))
    assert_error(denied, 403, "not_project_member")
    assert_error(await client.get(f"/projects/check/{check_id}"), 401, "unauthorized")


async def test_unknown_check_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    response = await client.get(
        "/projects/check/chk_doesnotexist", headers=auth_headers(await make_user())
    )
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize("check_id", ["a" * 65, "chk.1", "chk%2F..%2Fadmin", "ch k", "é"])
async def test_malformed_check_id_is_404_without_calling_the_service(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    check_id: str,
) -> None:
    response = await client.get(
        f"/projects/check/{check_id}", headers=auth_headers(await make_user())
    )
    assert_error(response, 404, "not_found")
    assert review_service.requests == []


async def test_a_check_of_a_deleted_project_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]
    await project.delete()

    response = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert_error(response, 404, "not_found")


# --- the service misbehaving --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, '{"error": "boom"}'),
        (503, "unavailable"),
        (401, '{"error": "bad token"}'),
        (200, "not json"),
        (200, '{"id": "chk_1"}'),
        (200, '{"id": "chk_1", "status": "exploded"}'),
        (200, '{"id": "../../x", "status": "pending"}'),
        (200, "[]"),
    ],
)
async def test_upstream_failure_on_start_is_502(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    status: int,
    body: str,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    review_service.fail_next(status, body=body)

    assert_error(await start(client, project, ada), 502, "review_service_failed")


async def test_upstream_failure_on_poll_is_502(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]
    review_service.fail_next(500)

    response = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert_error(response, 502, "review_service_failed")


async def test_poll_answer_without_a_project_reference_is_502(
    client: httpx.AsyncClient, make_user: MakeUser, review_service: FakeReviewService
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]
    del review_service.checks[check_id]["reference"]

    response = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert_error(response, 502, "review_service_failed")


async def test_wrong_token_is_502(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    app: FastAPI,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    app.state.settings = app.state.settings.model_copy(
        update={"review_factory_token": SecretStr("wrong")}
    )

    assert_error(await start(client, project, ada), 502, "review_service_failed")
    assert review_service.requests[0].headers["authorization"] == "Bearer wrong"


async def test_upstream_timeout_is_502(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    monkeypatch.setattr(review, "UPSTREAM_TIMEOUT", httpx.Timeout(0.2))
    review_service.hang_next(1.0)

    assert_error(await start(client, project, ada), 502, "review_service_failed")


async def test_unreachable_service_is_502(
    client: httpx.AsyncClient, make_user: MakeUser, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    with FakeReviewService() as fake:
        closed_url = fake.url  # nothing listens there once the fake has stopped
    app.state.settings = settings.model_copy(
        update={"review_factory_url": closed_url, "review_factory_token": SecretStr("t")}
    )
    try:
        response = await start(client, project, ada)
    finally:
        app.state.settings = settings

    assert_error(response, 502, "review_service_failed")


async def test_unstorable_result_is_502(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    review_service: FakeReviewService,
    db: asyncpg.Pool,
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)
    check_id = (await start(client, project, ada)).json()["check_id"]
    review_service.finish(check_id, {"notes": "nul \u0000 byte"})

    response = await client.get(f"/projects/check/{check_id}", headers=auth_headers(ada))

    assert_error(response, 502, "review_service_failed")
    assert await db.fetchval("SELECT cached_auto_quality FROM projects") is None


# --- not configured -----------------------------------------------------------------------


async def test_unconfigured_service_answers_503(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    project = await make_project_with_links(ada)

    started = await start(client, project, ada)
    polled = await client.get("/projects/check/chk_1", headers=auth_headers(ada))

    for response in (started, polled):
        assert_error(response, 503, "review_service_unavailable")
        assert "PODIUM_REVIEW_FACTORY_URL" in response.json()["error"]["message"]
