"""Schemathesis against the committed spec, calling a live server on the test database.

Every operation, every check (server errors, status codes, content types, headers, schema
conformance, negative-data rejection, positive-data acceptance, missing and ignored auth) and
every phase including the stateful one, authenticated as a real user who owns data to act on.
The server is uvicorn in a subprocess on 127.0.0.1: schemathesis drives its own event loop, and
the app's database pool must live on the server's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from tests.conftest import TEST_JWT_SECRET, access_token
from tests.live_server import running_server

from podium.config import Settings
from podium.openapi import SPEC_PATH
from podium_devtools.fake_review import FakeReviewService

# Enough examples to exercise every operation and the stateful links, small enough for CI.
MAX_EXAMPLES = int(os.environ.get("PODIUM_CONTRACT_MAX_EXAMPLES", "25"))
REPORT = Path(".podium") / "contract-report.txt"


async def seed_actor(pool: asyncpg.Pool) -> str:
    """A user owning a votable event with projects by others, so routes have data to act on."""
    async with pool.acquire() as conn, conn.transaction():
        owner = await conn.fetchval(
            "INSERT INTO users (email, display_name, first_name, last_name) "
            "VALUES ('contract@example.com', 'Contract T.', 'Contract', 'Tester') RETURNING id"
        )
        other = await conn.fetchval(
            "INSERT INTO users (email, display_name, first_name) "
            "VALUES ('other@example.com', 'Other', 'Other') RETURNING id"
        )
        event = await conn.fetchval(
            "INSERT INTO events (name, slug, join_code, owner_id, phase, live_leaderboard) "
            "VALUES ('Contract Hack', 'contract-hack', 'CONTR1', $1, 'voting', true) RETURNING id",
            owner,
        )
        for user in (owner, other):
            await conn.execute(
                "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)", event, user
            )
        for n in range(5):
            await conn.execute(
                "INSERT INTO projects (name, join_code, owner_id, event_id, demo, repo) "
                "VALUES ($1, $2, $3, $4, 'https://demo.example', 'https://github.com/x/y')",
                f"Project {n}",
                f"CPRJ0{n}",
                other if n else owner,
                event,
            )
    return "contract@example.com"


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    with FakeReviewService() as review:
        env = {
            "DATABASE_URL": settings.database_url or "",
            "PODIUM_DATABASE_PGBOUNCER": settings.database_pgbouncer,
            "PODIUM_ENV": "development",
            "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
            "PODIUM_REVIEW_FACTORY_URL": review.url,
            "PODIUM_REVIEW_FACTORY_TOKEN": review.token,
            # One fuzzing user edits far faster than a person: at the default edit limit most
            # PUTs were 429s and their logic went untested. The other limits stay as shipped.
            "PODIUM_RATE_LIMIT_EDITS": "100000/1m",
        }
        with running_server(env) as base:
            yield base


@pytest.mark.slow
async def test_schemathesis_finds_no_failures(
    db: asyncpg.Pool, live_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    email = await seed_actor(db)
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(SPEC_PATH),
        "--url", live_server,
        "--header", f"Authorization: Bearer {access_token(email)}",
        "--checks", "all",
        # Its deletion tracking is per path: a scenario POST /events/ → DELETE /events/{id} (204)
        # → GET /events/admin/{id} (404, correct) is reported as "not available after creation"
        # (traced in the server's access log; see docs/contract.md). `use_after_free` stays on.
        "--exclude-checks", "ensure_resource_availability",
        # These end the run's one token (or its account): every request after would be a 401.
        # tests/api/test_sessions.py and test_account_deletion.py cover them.
        "--exclude-operation-id", "log_out",
        "--exclude-operation-id", "log_out_everywhere",
        "--exclude-operation-id", "delete_current_user",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20261124",
        # One worker: with two, a scenario can see its event deleted by the other worker.
        "--workers", "1",
        "--request-timeout", "10",
        "--no-color",
    ]  # fmt: skip
    import asyncio

    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=600
    )
    output = result.stdout + result.stderr
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(output)
    summary = [
        line for line in output.splitlines()
        if re.search(r"(operations|test cases|Stateful|scenarios|passed|failed|Seed)", line)
    ]  # fmt: skip
    with capsys.disabled():
        print("\nschemathesis contract run:\n  " + "\n  ".join(summary[-15:]))
    assert result.returncode == 0, output[-20_000:]
