"""A run killed at any point, then run again, ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podium.backfill.pipeline import Backfill, Hooks, Options
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import dump, scalar, source_for

pytestmark = pytest.mark.db

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Crash(Exception):
    """Stands in for the process dying."""


def crash_on_page(stage: str, page: int) -> Hooks:
    def on_page(current_stage: str, pages: int) -> None:
        if (current_stage, pages) == (stage, page):
            raise Crash(f"{stage} page {page}")

    return Hooks(on_page=on_page)


def crash_before_commit(stage: str) -> Hooks:
    def before_commit(current_stage: str) -> None:
        if current_stage == stage:
            raise Crash(f"{stage} before commit")

    return Hooks(before_commit=before_commit)


def crash_after_commit(stage: str) -> Hooks:
    def after_commit(current_stage: str) -> None:
        if current_stage == stage:
            raise Crash(f"{stage} after commit")

    return Hooks(after_commit=after_commit)


# Pages per table of the 2,000-record test base: users 6, events 1, projects 3, referrals 3,
# votes 10. Points drawn once from a seeded generator, so failures reproduce. The crashing runs
# read one listing at a time, so which stages were committed at a given page is fixed.
_draw = random.Random(20261124)
CRASH_POINTS: list[tuple[str, Hooks, list[str]]] = [
    ("first page of users", crash_on_page("users", 1), []),
    (f"users page {(n := _draw.randint(2, 6))}", crash_on_page("users", n), []),
    ("writing users, uncommitted", crash_before_commit("users"), []),
    ("events committed", crash_after_commit("events"), ["users", "events"]),
    (
        f"projects page {(n := _draw.randint(1, 3))}",
        crash_on_page("projects", n),
        ["users", "events"],
    ),
    (
        "writing votes, uncommitted",
        crash_before_commit("votes"),
        ["users", "events", "projects", "referrals"],
    ),
    (
        f"votes page {(n := _draw.randint(1, 10))}",
        crash_on_page("votes", n),
        ["users", "events", "projects", "referrals"],
    ),
]


@pytest.mark.parametrize(
    ("hooks", "finished_before"),
    [(hooks, finished) for _, hooks, finished in CRASH_POINTS],
    ids=[label for label, _, _ in CRASH_POINTS],
)
async def test_a_resumed_run_ends_like_an_uninterrupted_one(
    messy_base: GeneratedBase,
    reference_dump: dict[str, Any],
    database: str,
    hooks: Hooks,
    finished_before: list[str],
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        with pytest.raises(Crash):
            await Backfill(
                source_for(fake, concurrency=1), database, options=Options(hooks=hooks)
            ).run()
        fake.reset_log()
        resumed = await Backfill(source_for(fake), database).run()
        tables_read = {request.table for request in fake.requests}
    assert resumed.resumed == finished_before
    assert not tables_read & set(resumed.resumed)  # finished stages are not read again
    assert await dump(database) == reference_dump
    assert (
        await scalar(database, "SELECT count(*) FROM backfill_runs WHERE status = 'running'") == 0
    )


async def test_crashing_twice_then_resuming_still_ends_the_same(
    messy_base: GeneratedBase, reference_dump: dict[str, Any], database: str
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        for hooks in (crash_on_page("projects", 2), crash_before_commit("votes")):
            with pytest.raises(Crash):
                await Backfill(
                    source_for(fake, concurrency=1), database, options=Options(hooks=hooks)
                ).run()
        result = await Backfill(source_for(fake), database).run()
    assert result.resumed == ["users", "events", "projects", "referrals"]
    assert await dump(database) == reference_dump


async def test_restart_ignores_the_checkpoints(
    messy_base: GeneratedBase, reference_dump: dict[str, Any], database: str
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        with pytest.raises(Crash):
            # One listing at a time (as above): with two, votes page 2 can be read before the
            # users stage has committed, and the restart would then find no user unchanged.
            await Backfill(
                source_for(fake, concurrency=1),
                database,
                options=Options(hooks=crash_on_page("votes", 2)),
            ).run()
        result = await Backfill(source_for(fake), database, options=Options(restart=True)).run()
    assert result.resumed == []
    assert result.counts["users"]["unchanged"] > 0
    assert await dump(database) == reference_dump


@pytest.mark.slow
async def test_a_killed_process_is_resumed_by_the_next_run(
    messy_base: GeneratedBase, reference_dump: dict[str, Any], database: str
) -> None:
    """SIGKILL the CLI at random moments of a throttled run, then finish it."""
    draw = random.Random(7)
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        environment = {
            **os.environ,
            **fake.env(),
            "DATABASE_URL": database,
            "AIRTABLE_REQUESTS_PER_SECOND": "8",  # ~35 requests: about 4 s per run
        }
        for attempt in range(2):
            fake.reset_log()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "scripts/migrate_from_airtable.py",
                "run",
                "--no-progress",
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Wait until it is reading, then kill it somewhere in the run.
            for _ in range(400):
                if fake.requests or process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(draw.uniform(0.2, 2.0))
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
            if attempt == 0:  # the second attempt, resuming, may finish before its kill
                running = "SELECT count(*) FROM backfill_runs WHERE status = 'running'"
                assert await scalar(database, running) == 1
        await Backfill(source_for(fake), database).run()
    assert await dump(database) == reference_dump
