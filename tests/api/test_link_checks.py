"""The link-check routes: ask for a re-check (rate-limited) and read a project's check."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from podium.config import LinkCheckMode, Settings
from podium.db import Database
from podium.models import Event, Project, ProjectCollaborator, User
from podium.queries import link_checks as queue
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers


async def arranged(make_user: MakeUser) -> tuple[User, User, Event, Project]:
    """(organiser, owner, event, project): a project never checked yet."""
    organiser, owner = await make_user(), await make_user()
    event = await make_event(organiser)
    project = await make_project(owner, event, repo="https://github.com/ada/rover")
    return organiser, owner, event, project


async def recheck(client: httpx.AsyncClient, project: Project, user: User | None) -> httpx.Response:
    headers = auth_headers(user) if user is not None else {}
    return await client.post(f"/projects/{pid(project)}/link-check", headers=headers)


async def test_the_owner_asks_for_a_check_and_it_is_queued(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, owner, _, project = await arranged(make_user)

    response = await recheck(client, project, owner)

    assert response.status_code == 202, response.text
    check = response.json()
    assert (check["status"], check["reasons"], check["checked_at"]) == ("pending", [], None)
    row = await db.fetchrow("SELECT status, next_attempt_at FROM link_checks")
    assert row["status"] == "pending" and row["next_attempt_at"] is not None
    read = await client.get(f"/projects/{pid(project)}/link-check", headers=auth_headers(owner))
    assert read.status_code == 200 and read.json() == check


async def test_the_events_organiser_may_ask_too(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    organiser, _, _, project = await arranged(make_user)
    assert (await recheck(client, project, organiser)).status_code == 202


async def test_a_recheck_of_a_finished_check_starts_a_new_generation(
    app: FastAPI, client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, owner, _, project = await arranged(make_user)
    await recheck(client, project, owner)
    await db.execute(
        "UPDATE link_checks SET status = 'invalid', checked_at = now(), next_attempt_at = NULL, "
        'requested_at = now() - interval \'2 minutes\', reasons = \'[{"link": "repo", '
        '"code": "repo_not_found", "severity": "invalid", "message": "gone"}]\''
    )
    shown = await client.get(f"/projects/{pid(project)}/link-check", headers=auth_headers(owner))
    assert shown.json()["reasons"][0]["code"] == "repo_not_found"

    again = await recheck(client, project, owner)

    assert again.status_code == 202
    assert again.json()["status"] == "pending"
    assert again.json()["checked_at"] is not None  # the last finished check's time stays
    row = await db.fetchrow("SELECT generation, attempts FROM link_checks")
    assert (row["generation"], row["attempts"]) == (2, 0)


async def test_a_second_request_within_the_minute_is_429_with_retry_after(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    organiser, owner, _, project = await arranged(make_user)
    assert (await recheck(client, project, owner)).status_code == 202

    too_soon = await recheck(client, project, organiser)

    assert_error(too_soon, 429, "link_check_too_soon")
    assert 1 <= int(too_soon.headers["retry-after"]) <= 60
    assert await db.fetchval("SELECT generation FROM link_checks") == 1


async def test_a_change_of_links_counts_as_a_request_for_the_rate_limit(
    app: FastAPI, client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, owner, _, project = await arranged(make_user)
    database: Database = app.state.database
    async with database.transaction() as tx:
        await queue.enqueue(tx, project.pk)

    assert_error(await recheck(client, project, owner), 429, "link_check_too_soon")


async def test_requests_spaced_by_the_interval_are_accepted(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, owner, _, project = await arranged(make_user)
    await recheck(client, project, owner)
    await db.execute("UPDATE link_checks SET requested_at = now() - interval '61 seconds'")
    assert (await recheck(client, project, owner)).status_code == 202


async def test_concurrent_requests_queue_one_check(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    import asyncio

    _, owner, _, project = await arranged(make_user)
    answers = await asyncio.gather(*(recheck(client, project, owner) for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [202, 429, 429, 429, 429]


@pytest.mark.parametrize("who", ["collaborator", "stranger"])
async def test_others_are_refused(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool, who: str
) -> None:
    _, _, _, project = await arranged(make_user)
    other = await make_user()
    if who == "collaborator":
        await ProjectCollaborator.objects.create(project=project, user=other)

    asked = await recheck(client, project, other)
    read = await client.get(f"/projects/{pid(project)}/link-check", headers=auth_headers(other))

    assert_error(asked, 403, "forbidden")
    assert_error(read, 403, "forbidden")
    assert await db.fetchval("SELECT count(*) FROM link_checks") == 0


async def test_without_a_token_it_is_401(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, _, _, project = await arranged(make_user)
    assert (await recheck(client, project, None)).status_code == 401
    assert (await client.get(f"/projects/{pid(project)}/link-check")).status_code == 401


async def test_an_unknown_project_is_404_and_an_unchecked_one_has_no_check(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    _, owner, _, project = await arranged(make_user)
    unknown = await client.post("/projects/p_zzzzzzz/link-check", headers=auth_headers(owner))
    unchecked = await client.get(
        f"/projects/{pid(project)}/link-check", headers=auth_headers(owner)
    )
    assert unknown.status_code == 404
    assert_error(unchecked, 404, "not_found")


async def test_with_link_checks_off_nothing_is_queued(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    _, owner, event, project = await arranged(make_user)
    await attend(event, owner)
    app.state.settings = settings.model_copy(update={"link_checks": LinkCheckMode.OFF})
    try:
        response = await recheck(client, project, owner)
        created = await client.post(
            "/projects/",
            json={
                "name": "Another",
                "repo": "https://github.com/ada/another",
                "image_url": "https://example.com/a.png",
                "demo": "https://another.example.com",
                "event": eid(event),
            },
            headers=auth_headers(owner),
        )
    finally:
        app.state.settings = settings
    assert_error(response, 503, "link_checks_off")
    assert created.status_code == 201, created.text
    assert await db.fetchval("SELECT count(*) FROM link_checks") == 0


async def test_the_interval_is_a_setting(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    settings: Settings,
) -> None:
    _, owner, _, project = await arranged(make_user)
    app.state.settings = settings.model_copy(update={"link_check_recheck_seconds": 0})
    try:
        answers = [await recheck(client, project, owner) for _ in range(3)]
    finally:
        app.state.settings = settings
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert await db.fetchval("SELECT generation FROM link_checks") == 3
