"""The TypeScript SDK generated from the committed spec, type-checked and driven against a live API.

`clients/typescript` is built from a clean install (`npm ci`, generate, `tsc --strict`, build),
then its flow signs up and logs in two users, runs an event to a vote and a leaderboard, follows
a legacy redirect and reads typed error codes, through nothing but the generated SDK.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg
import pytest

from podium.ids import DEVELOPMENT_ID_KEY, Entity
from podium.public_ids import configure_codec, public_id
from tests.e2e.conftest import LiveApi

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "typescript"
NPM_TIMEOUT_SECONDS = 300
FLOW_TIMEOUT_SECONDS = 120
# What flow.ts prints, one `PASS <step>: …` line each, in order.
FLOW_STEPS = (
    "sign up A",
    "log in A",
    "create event",
    "sign up and log in B",
    "attend event (B)",
    "attend event (A)",
    "create a project each",
    "open voting (A)",
    "vote (B for A's project)",
    "read leaderboard",
    "follow legacy redirect",
    "read typed error codes",
)
# `any` in a type position; the generated code may use it, the flow may not.
ANY_TYPE = re.compile(r":\s*any\b|\bas\s+any\b|<any\b|\bany\[\]")

pytestmark = pytest.mark.e2e


def run_npm(*args: str, env: dict[str, str] | None = None, timeout: float) -> str:
    """`npm <args>` in clients/typescript; its output, or a test failure showing it."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed (the e2e suite needs Node 20 and npm)")
    result = subprocess.run(
        [npm, *args],
        cwd=CLIENT_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(args)} exited {result.returncode}:\n{output[-20_000:]}")
    return output


# The clean build CI does, step by step (label → npm arguments).
BUILD_STEPS = {
    "npm ci": ("ci", "--no-audit", "--no-fund"),
    "generate": ("run", "generate"),
    "typecheck": ("run", "typecheck"),
    "build": ("run", "build"),
}


@pytest.fixture(scope="module")
def built_client() -> dict[str, float]:
    """Install, generate, type-check and build the client; seconds per step."""
    seconds: dict[str, float] = {}
    for label, args in BUILD_STEPS.items():
        started = time.monotonic()
        run_npm(*args, timeout=NPM_TIMEOUT_SECONDS)
        seconds[label] = time.monotonic() - started
    return seconds


async def seed_legacy_user(pool: asyncpg.Pool) -> tuple[str, str]:
    """A user migrated from v1: its `/legacy/rec…` path and the canonical path it redirects to."""
    airtable_id = "recTsFlow" + secrets.token_hex(4)
    seq = await pool.fetchval(
        "INSERT INTO users (email, display_name, first_name, last_name, airtable_id) "
        "VALUES ('legacy-ts@example.com', 'Legacy T.', 'Legacy', 'TypeScript', $1) RETURNING seq",
        airtable_id,
    )
    configure_codec(DEVELOPMENT_ID_KEY)  # the live server's key in development
    return f"/legacy/{airtable_id}", f"/users/{public_id(Entity.USER, seq)}"


def test_flow_uses_no_any() -> None:
    source = (CLIENT_DIR / "src" / "flow.ts").read_text()
    assert not ANY_TYPE.search(source), ANY_TYPE.findall(source)


async def test_generated_client_runs_the_flow(
    built_client: dict[str, float],
    live_api: LiveApi,
    db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy_path, legacy_location = await seed_legacy_user(db)
    env = {
        "PODIUM_API_URL": live_api.url,
        "PODIUM_SERVER_LOG": str(live_api.log_path),
        "PODIUM_LEGACY_PATH": legacy_path,
        "PODIUM_LEGACY_LOCATION": legacy_location,
    }
    started = time.monotonic()
    output = await asyncio.to_thread(
        run_npm, "run", "--silent", "flow", env=env, timeout=FLOW_TIMEOUT_SECONDS
    )
    flow_seconds = time.monotonic() - started

    passed = re.findall(r"^PASS (.+?): ", output, flags=re.MULTILINE)
    assert tuple(passed) == FLOW_STEPS, output
    assert f"{legacy_path} → 308 {legacy_location} → 200" in output

    votes = await db.fetch(
        "SELECT v.seq, voter.email AS voter, owner.email AS owner, v.event_id = p.event_id "
        "AS same_event FROM votes v JOIN users voter ON voter.id = v.voter_id "
        "JOIN projects p ON p.id = v.project_id JOIN users owner ON owner.id = p.owner_id"
    )
    assert len(votes) == 1, votes
    (vote,) = votes
    assert vote["voter"].endswith("-b@example.com"), vote
    assert vote["owner"].endswith("-a@example.com"), vote
    assert vote["same_event"]
    assert f"vote {public_id(Entity.VOTE, vote['seq'])}" in output

    timings = {**built_client, "flow": flow_seconds}
    with capsys.disabled():
        print("\ntypescript client: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        print("  " + "\n  ".join(output.strip().splitlines()))
