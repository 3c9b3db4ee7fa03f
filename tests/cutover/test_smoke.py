"""The cutover smoke test against `podium dev` (a real server) and against broken deployments."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import MakeUser, access_token
from tests.cutover.conftest import PROJECT_ROOT, ServerProcess, run_script

from podium.cutover.smoke import Outcome, TokenLogin, run_smoke_test
from podium.errors import ApiError
from podium.services import voting

SMOKE_SCRIPT = PROJECT_ROOT / "scripts" / "smoke_test.py"
VOTE_STEP = "vote (A for B's project)"


async def test_smoke_test_passes_against_podium_dev(dev_server: ServerProcess) -> None:
    code, output = await run_script(SMOKE_SCRIPT, dev_server.url, "--dev-log", dev_server.log_path)

    assert code == 0, output
    assert "SMOKE TEST PASSED" in output
    assert "throwaway users stay" in output


async def test_smoke_test_with_a_wrong_token_fails_at_log_in(dev_server: ServerProcess) -> None:
    code, output = await run_script(
        SMOKE_SCRIPT, dev_server.url, "--token-a", "not-a-token", "--token-b", "not-either"
    )

    assert code == 1, output
    assert "SMOKE TEST FAILED at step 'log in (accounts A and B)'" in output
    assert "answered 401" in output


async def test_smoke_test_without_accounts_is_a_usage_error() -> None:
    code, output = await run_script(SMOKE_SCRIPT, "http://127.0.0.1:9")

    assert code == 2
    assert "--dev-log" in output


async def test_smoke_test_against_an_unreachable_server_fails_at_the_first_step() -> None:
    code, output = await run_script(
        SMOKE_SCRIPT, "http://127.0.0.1:9", "--token-a", "a", "--token-b", "b", "--timeout", "2"
    )

    assert code == 1
    assert "SMOKE TEST FAILED at step 'API reachable (GET /health)'" in output
    assert "no answer" in output


async def test_smoke_test_names_the_vote_step_when_voting_is_broken_and_still_cleans_up(
    app: FastAPI,
    make_user: MakeUser,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def voting_closed(*_: object) -> None:
        raise ApiError(403, "voting_closed", "voting is not open for this event")

    monkeypatch.setattr(voting, "cast_votes", voting_closed)
    a, b = await make_user(), await make_user()

    report = await run_smoke_test(
        "http://testserver",
        TokenLogin(access_token(a.email), access_token(b.email)),
        transport=httpx.ASGITransport(app=app),
    )

    assert not report.passed
    failure = report.first_failure
    assert failure is not None and failure.name == VOTE_STEP
    assert "403" in failure.detail and "voting_closed" in failure.detail
    outcomes = {step.name: step.outcome for step in report.steps}
    assert outcomes["read leaderboard"] is Outcome.SKIP
    assert outcomes["delete projects"] is Outcome.PASS
    assert outcomes["delete event"] is Outcome.PASS
    assert not report.notes  # nothing left behind
    assert await db.fetchval("SELECT count(*) FROM events") == 0
    assert await db.fetchval("SELECT count(*) FROM projects") == 0


async def test_smoke_test_follows_the_redirect_of_a_migrated_record(
    app: FastAPI, make_user: MakeUser
) -> None:
    migrated = await make_user(airtable_id="recMigratedUser01")
    a, b = await make_user(), await make_user()

    report = await run_smoke_test(
        "http://testserver",
        TokenLogin(access_token(a.email), access_token(b.email)),
        legacy_id=migrated.airtable_id,
        transport=httpx.ASGITransport(app=app),
    )

    assert report.passed, report.steps
    legacy = next(step for step in report.steps if step.name == "legacy redirect")
    assert legacy.detail.startswith("recMigratedUser01 → /users/")
    assert legacy.detail.endswith("→ 200")


async def test_smoke_test_fails_when_the_legacy_record_is_unknown(
    app: FastAPI, make_user: MakeUser
) -> None:
    a, b = await make_user(), await make_user()

    report = await run_smoke_test(
        "http://testserver",
        TokenLogin(access_token(a.email), access_token(b.email)),
        legacy_id="recNeverMigrated1",
        transport=httpx.ASGITransport(app=app),
    )

    failure = report.first_failure
    assert failure is not None and failure.name == "legacy redirect"
    assert "answered 404" in failure.detail
