"""The link-check queue on PostgreSQL: enqueued with the links in the request's transaction,
taken by runners with SKIP LOCKED and a lease, retried with backoff, superseded by new links."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI

from podium.db import Database
from podium.link_checks import runner
from podium.models import Event, Project, User
from podium.queries import link_checks as queue
from podium_devtools.fake_links import ITCH_DOWNLOAD_ONLY, ITCH_PLAYABLE, FakeLinks
from tests.api.conftest import attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers
from tests.link_checks.support import config_for, itch_url


def body(event: Event, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Rover",
        "repo": "https://github.com/ada/rover",
        "image_url": "https://example.com/rover.png",
        "demo": "https://rover.example.com",
        "event": eid(event),
        **overrides,
    }


def edit(event: Event, **overrides: Any) -> dict[str, Any]:
    """The PUT body (the whole project, without its event)."""
    values = body(event, **overrides)
    del values["event"]
    return values


def database(app: FastAPI) -> Database:
    db: Database = app.state.database
    return db


async def check_row(db: asyncpg.Pool, project_id: Any) -> asyncpg.Record | None:
    return await db.fetchrow("SELECT * FROM link_checks WHERE project_id = $1", project_id)


async def queued_project(owner: User, event: Event, app: FastAPI, **links: str) -> Project:
    """A project (arranged with ormar) with its check queued, as a create would."""
    project = await make_project(owner, event, **links)
    async with database(app).transaction() as tx:
        await queue.enqueue(tx, project.pk)
    return project


# --- enqueued with the request ------------------------------------------------------------


async def test_creating_a_project_queues_a_check_in_the_same_transaction(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)

    response = await client.post("/projects/", json=body(event), headers=auth_headers(ada))

    assert response.status_code == 201, response.text
    project_id = await db.fetchval("SELECT id FROM projects")
    row = await check_row(db, project_id)
    assert row is not None
    assert (row["status"], row["attempts"], row["generation"]) == ("pending", 0, 1)
    assert row["next_attempt_at"] is not None and row["locked_until"] is None


async def test_a_refused_create_queues_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())  # ada does not attend

    response = await client.post("/projects/", json=body(event), headers=auth_headers(ada))

    assert response.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM link_checks") == 0


async def test_changing_a_link_queues_a_check_and_other_edits_do_not(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    created = await client.post("/projects/", json=body(event), headers=auth_headers(ada))
    url = f"/projects/{created.json()['id']}"
    project_id = await db.fetchval("SELECT id FROM projects")
    await db.execute(
        "UPDATE link_checks SET status = 'valid', next_attempt_at = NULL WHERE project_id = $1",
        project_id,
    )

    renamed = await client.put(
        url, json=edit(event, name="Rover 2", hours_spent=3), headers=auth_headers(ada)
    )
    unchanged = await check_row(db, project_id)
    relinked = await client.put(
        url, json=edit(event, demo="https://rover2.example.com"), headers=auth_headers(ada)
    )
    changed = await check_row(db, project_id)
    new_repo = await client.put(
        url,
        json=edit(event, demo="https://rover2.example.com", repo="https://github.com/ada/rover2"),
        headers=auth_headers(ada),
    )
    repo_changed = await check_row(db, project_id)

    assert renamed.status_code == relinked.status_code == 200
    assert unchanged is not None and changed is not None
    assert (unchanged["status"], unchanged["generation"]) == ("valid", 1)
    assert unchanged["next_attempt_at"] is None
    assert (changed["status"], changed["generation"]) == ("pending", 2)
    assert changed["next_attempt_at"] is not None
    assert new_repo.status_code == 200 and repo_changed is not None
    assert repo_changed["generation"] == 3


# --- the runner ---------------------------------------------------------------------------


async def test_a_runner_checks_due_jobs_and_stores_status_and_reasons(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    fake.repo("ada", "rover")
    fake.page("/rover", ITCH_PLAYABLE)
    fake.page("/download", ITCH_DOWNLOAD_ONLY)
    good = await queued_project(
        ada, event, app, repo="https://github.com/ada/rover", demo=itch_url(fake, "/rover")
    )
    meh = await queued_project(
        ada, event, app, repo="https://github.com/ada/rover", demo=itch_url(fake, "/download")
    )
    bad = await queued_project(ada, event, app, repo="https://github.com/ada/gone", demo="")

    report = await runner.run_once(database(app), config_for(fake, batch=10))

    assert sorted(report.finished) == sorted(str(p.pk) for p in (good, meh, bad))
    rows = {
        row["project_id"]: row
        for row in await db.fetch("SELECT *, reasons::text AS reasons_json FROM link_checks")
    }
    assert rows[good.pk]["status"] == "valid"
    assert rows[meh.pk]["status"] == "warning"
    assert rows[bad.pk]["status"] == "invalid"
    [reason] = json.loads(rows[bad.pk]["reasons_json"])
    assert reason["link"] == "repo" and reason["code"] == "repo_not_found"
    assert reason["severity"] == "invalid" and "ada/gone" in reason["message"]
    for row in rows.values():
        assert row["checked_at"] is not None
        assert row["next_attempt_at"] is None and row["lease"] is None
    # Done jobs are not taken again.
    assert (await runner.run_once(database(app), config_for(fake))).taken == 0


async def test_two_runners_never_check_one_job_at_once(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    projects = []
    for n in range(12):
        # Each demo takes a while, so both runners are busy at the same time.
        fake.page(f"/demo/{n}", "ok", delay=0.2)
        projects.append(await queued_project(ada, event, app, repo="", demo=f"{fake.url}/demo/{n}"))
    config = config_for(fake, batch=3)

    async def drain() -> list[str]:
        done: list[str] = []
        while (report := await runner.run_once(database(app), config)).taken:
            done += report.finished
        return done

    first, second = await asyncio.gather(drain(), drain())

    assert first and second  # both took part
    assert sorted(first + second) == sorted(str(p.pk) for p in projects)  # each job once
    demo_requests = [path for path in fake.paths() if path.startswith("/demo/")]
    assert sorted(demo_requests) == sorted(f"/demo/{n}" for n in range(12))
    assert await db.fetchval("SELECT count(*) FROM link_checks WHERE status = 'valid'") == 12


async def test_a_leased_job_is_left_alone_until_its_lease_runs_out(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    project = await queued_project(ada, await make_event(ada), app, repo="", demo=fake.url + "/x")
    fake.page("/x", "ok")
    # A runner took it and died: its lease holds the job for a while.
    [job] = await queue.take(database(app), 10, timedelta(minutes=5))

    assert (await runner.run_once(database(app), config_for(fake))).taken == 0
    await db.execute(
        "UPDATE link_checks SET locked_until = now() - interval '1 second' WHERE project_id = $1",
        project.pk,
    )
    report = await runner.run_once(database(app), config_for(fake))

    assert report.finished == [str(project.pk)]
    # The dead runner's late result is not stored over the new one.
    assert not await queue.finish(
        database(app), project.pk, job["lease"], job["generation"], "invalid", []
    )
    row = await check_row(db, project.pk)
    assert row is not None and (row["status"], row["attempts"]) == ("valid", 2)


async def test_a_transient_failure_is_retried_with_backoff_then_succeeds(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    fake.repo("ada", "rover")
    fake.rate_limit_next(1)
    project = await queued_project(
        ada, await make_event(ada), app, repo="https://github.com/ada/rover", demo=""
    )

    first = await runner.run_once(database(app), config_for(fake, retry_seconds=30.0))
    waiting = await check_row(db, project.pk)
    assert first.retried == [str(project.pk)]
    assert waiting is not None and waiting["status"] == "pending"
    assert waiting["lease"] is None and "HTTP 403" in waiting["last_error"]
    backoff = await db.fetchval(
        "SELECT next_attempt_at - now() FROM link_checks WHERE project_id = $1", project.pk
    )
    assert timedelta(seconds=25) < backoff <= timedelta(seconds=30)
    # Not due before its time.
    assert (await runner.run_once(database(app), config_for(fake))).taken == 0

    await db.execute(
        "UPDATE link_checks SET next_attempt_at = now() WHERE project_id = $1", project.pk
    )
    second = await runner.run_once(database(app), config_for(fake))

    assert second.finished == [str(project.pk)]
    row = await check_row(db, project.pk)
    assert row is not None and (row["status"], row["attempts"]) == ("valid", 2)


async def test_retries_are_bounded_and_the_last_attempt_reports_a_warning(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    fake.repo("ada", "rover")
    fake.page("/down", "maintenance", status=503)
    project = await queued_project(
        ada,
        await make_event(ada),
        app,
        repo="https://github.com/ada/rover",
        demo=fake.url + "/down",
    )
    config = config_for(fake, max_attempts=3)

    reports = [await runner.run_once(database(app), config) for _ in range(4)]

    assert [len(r.retried) for r in reports] == [1, 1, 0, 0]
    assert [len(r.finished) for r in reports] == [0, 0, 1, 0]
    assert fake.paths().count("/down") == 3
    row = await db.fetchrow(
        "SELECT status, attempts, reasons::text AS reasons FROM link_checks WHERE project_id = $1",
        project.pk,
    )
    assert (row["status"], row["attempts"]) == ("warning", 3)
    [reason] = json.loads(row["reasons"])
    assert (reason["link"], reason["code"], reason["severity"]) == ("demo", "http_error", "warning")


async def test_links_changed_during_a_check_leave_the_job_due_for_the_new_links(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks
) -> None:
    ada = await make_user()
    fake.page("/old", "old demo", delay=0.5)
    fake.page("/new", "new demo")
    project = await queued_project(ada, await make_event(ada), app, repo="", demo=fake.url + "/old")

    async def change_links_meanwhile() -> None:
        await asyncio.sleep(0.2)  # the runner is fetching /old
        await db.execute(
            "UPDATE projects SET demo = $1 WHERE id = $2", fake.url + "/new", project.pk
        )
        async with database(app).transaction() as tx:
            await queue.enqueue(tx, project.pk)

    report, _ = await asyncio.gather(
        runner.run_once(database(app), config_for(fake)), change_links_meanwhile()
    )

    assert report.superseded == [str(project.pk)]
    row = await check_row(db, project.pk)
    assert row is not None and (row["status"], row["generation"]) == ("pending", 2)
    assert row["checked_at"] is None and row["lease"] is None
    again = await runner.run_once(database(app), config_for(fake))
    assert again.finished == [str(project.pk)]
    assert fake.paths() == ["/old", "/new"]


# --- what the organiser sees --------------------------------------------------------------


async def test_the_admin_leaderboard_shows_each_projects_check_and_its_etag_moves(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    fake: FakeLinks,
) -> None:
    organiser, ada = await make_user(), await make_user()
    event = await make_event(organiser)
    checked = await queued_project(ada, event, app, repo="https://github.com/ada/gone", demo="")
    never = await make_project(ada, event, name="Old")
    url = f"/events/admin/{eid(event)}/leaderboard"

    before = await client.get(url, headers=auth_headers(organiser))
    await runner.run_once(database(app), config_for(fake))
    after = await client.get(
        url, headers={**auth_headers(organiser), "If-None-Match": before.headers["etag"]}
    )

    assert before.status_code == 200 and after.status_code == 200, after.text
    shown = {item["id"]: item["link_check"] for item in after.json()}
    assert shown[pid(never)] is None
    check = shown[pid(checked)]
    assert check["status"] == "invalid" and check["checked_at"] is not None
    assert [r["code"] for r in check["reasons"]] == ["repo_not_found"]
    pending = {item["id"]: item["link_check"] for item in before.json()}[pid(checked)]
    assert (pending["status"], pending["reasons"], pending["checked_at"]) == ("pending", [], None)


async def test_the_public_views_show_no_link_check(
    app: FastAPI, client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    project = await queued_project(ada, event, app, repo="https://github.com/ada/rover")

    listed = await client.get(f"/events/{eid(event)}/projects")
    single = await client.get(f"/projects/{pid(project)}")
    mine = await client.get("/projects/mine", headers=auth_headers(ada))

    for item in [*listed.json(), single.json(), *mine.json()]:
        assert "link_check" not in item


async def test_of_event_reads_every_project_with_its_check_for_exports(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    queued = await queued_project(ada, event, app, repo="https://github.com/ada/rover")
    never = await make_project(ada, event, name="Old")

    rows = await queue.of_event(database(app), event.pk)

    assert [(row["project_id"], row["status"]) for row in rows] == [
        (queued.pk, "pending"),
        (never.pk, None),
    ]
