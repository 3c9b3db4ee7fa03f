"""`podium worker` as a process, and the checks run inside the app (PODIUM_LINK_CHECKS=inline)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from fastapi import FastAPI

from podium.app import create_app
from podium.config import LinkCheckMode, Settings
from podium.db import Database
from podium.models import User
from podium.queries import link_checks as queue
from podium_devtools.fake_links import FakeLinks
from tests.api.conftest import make_event, make_project
from tests.conftest import MakeUser

WAIT_SECONDS = 60  # a loaded 2-core machine starts a Python process slowly


async def _wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, "the link check did not finish in time"
        await asyncio.sleep(0.2)


async def _queued(app: FastAPI, owner: User, repo: str) -> object:
    project = await make_project(owner, await make_event(owner), repo=repo, demo="")
    database: Database = app.state.database
    async with database.transaction() as tx:
        await queue.enqueue(tx, project.pk)
    return project.pk


async def _status(db: asyncpg.Pool, project_id: object) -> str | None:
    status: str | None = await db.fetchval(
        "SELECT status FROM link_checks WHERE project_id = $1", project_id
    )
    return status


async def test_podium_worker_runs_the_queue_and_stops_on_sigterm(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks, database_url: str
) -> None:
    fake.repo("ada", "rover")
    project_id = await _queued(app, await make_user(), "https://github.com/ada/rover")
    process = subprocess.Popen(  # noqa: ASYNC220  # started once; the test then polls the database
        [sys.executable, "-m", "podium.cli", "worker", "--concurrency", "2"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PODIUM_ENV": "development",
            "PODIUM_GITHUB_API_URL": fake.url,
            "PODIUM_LINK_CHECK_ALLOW_HOSTS": f"127.0.0.1:{fake.port}",
        },
    )
    try:
        await _wait_for(lambda: _status_is(db, project_id, "valid"))
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
    assert code == 0
    assert "/repos/ada/rover" in fake.paths()


async def _status_is(db: asyncpg.Pool, project_id: object, status: str) -> bool:
    return await _status(db, project_id) == status


def test_podium_worker_refuses_to_run_with_checks_off(database_url: str) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "podium.cli", "worker"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PODIUM_ENV": "development",
            "PODIUM_LINK_CHECKS": "off",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "PODIUM_LINK_CHECKS is off" in finished.stderr


async def test_inline_checks_run_inside_the_app(
    app: FastAPI, make_user: MakeUser, db: asyncpg.Pool, fake: FakeLinks, settings: Settings
) -> None:
    fake.repo("ada", "secret", private=True)
    project_id = await _queued(app, await make_user(), "https://github.com/ada/secret")
    inline = create_app(
        settings.model_copy(
            update={
                "link_checks": LinkCheckMode.INLINE,
                "github_api_url": fake.url,
                "link_check_allow_hosts": (f"127.0.0.1:{fake.port}",),
            }
        )
    )
    async with inline.router.lifespan_context(inline):
        await _wait_for(lambda: _status_is(db, project_id, "invalid"))
    assert fake.paths() == ["/repos/ada/secret"]


@pytest.mark.parametrize("mode", [LinkCheckMode.WORKER, LinkCheckMode.OFF])
async def test_the_app_runs_no_checks_unless_inline(
    app: FastAPI,
    make_user: MakeUser,
    db: asyncpg.Pool,
    fake: FakeLinks,
    settings: Settings,
    mode: LinkCheckMode,
) -> None:
    project_id = await _queued(app, await make_user(), "https://github.com/ada/rover")
    other = create_app(
        settings.model_copy(update={"link_checks": mode, "github_api_url": fake.url})
    )
    async with other.router.lifespan_context(other):
        await asyncio.sleep(1.0)
    assert await _status(db, project_id) == "pending"
    assert fake.requests == []
