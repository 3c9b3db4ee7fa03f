"""The login mail: the Loops request (against a local fake), provider failures, the throttle."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from podium.config import Settings
from podium.services import mail
from podium_devtools.fake_loops import FakeLoops
from tests.api.conftest import error_code
from tests.conftest import TEST_JWT_SECRET, MakeUser

EMAIL = "ada@example.com"
LOOPS_KEY = "loops-test-key"
LIMIT = 3  # Settings.login_mails_per_window, the default the tests run with
WINDOW = 600  # Settings.login_mail_window_seconds


@pytest.fixture
def use_settings(app: FastAPI, settings: Settings) -> Iterator[Any]:
    """Run this test's requests with some settings changed; restored afterwards."""

    def use(**changes: Any) -> None:
        app.state.settings = settings.model_copy(update=changes)

    yield use
    app.state.settings = settings


@pytest.fixture
def loops(use_settings: Any) -> Iterator[FakeLoops]:
    """A fake Loops the app mails through for this test."""
    with FakeLoops(api_key=LOOPS_KEY, transactional_id="tx-login-link") as fake:
        use_settings(**fake.settings_update())
        yield fake


async def request_login(client: httpx.AsyncClient, email: str = EMAIL) -> httpx.Response:
    return await client.post(
        "/request-login", params={"redirect": "/events"}, json={"email": email}
    )


async def mails_recorded(db: asyncpg.Pool, email: str = EMAIL) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM login_mails WHERE email = $1", email)
    return count


# -- Loops ------------------------------------------------------------------------------------


async def test_login_mail_goes_to_loops_with_the_key_and_the_link(
    client: httpx.AsyncClient, make_user: MakeUser, loops: FakeLoops
) -> None:
    await make_user(email=EMAIL)
    response = await request_login(client, "ADA@example.com")
    assert response.status_code == 202
    assert response.json()["sent"] is True
    [sent] = loops.requests
    assert (sent.method, sent.path) == ("POST", "/api/v1/transactional")
    assert sent.headers["authorization"] == f"Bearer {LOOPS_KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert set(sent.json) == {"transactionalId", "email", "dataVariables"}
    assert (sent.json["transactionalId"], sent.json["email"]) == ("tx-login-link", EMAIL)
    link = sent.json["dataVariables"]["auth_link"]
    query = parse_qs(urlsplit(link).query)
    assert link.startswith("http://localhost:5173/login?")
    assert query["redirect"] == ["/events"]
    token_claims = jwt.decode(query["token"][0], TEST_JWT_SECRET, algorithms=["HS256"])
    assert (token_claims["sub"], token_claims["token_type"]) == (EMAIL, "magic_link")


async def test_login_mail_through_loops_is_not_logged(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    loops: FakeLoops,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="podium")
    await make_user(email=EMAIL)
    assert (await request_login(client)).status_code == 202
    assert not any("token=" in record.getMessage() for record in caplog.records)


async def test_login_link_is_logged_when_loops_is_not_configured(
    client: httpx.AsyncClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    await make_user(email=EMAIL)
    assert (await request_login(client)).status_code == 202
    [record] = [r for r in caplog.records if r.getMessage().startswith("LOGIN LINK for ")]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"LOGIN LINK for {EMAIL}: http://localhost:5173/login?")


async def test_login_link_uses_the_configured_frontend_url(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    use_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    use_settings(frontend_url="https://podium.example.org/")
    await make_user(email=EMAIL)
    assert (await request_login(client)).status_code == 202
    assert f"LOGIN LINK for {EMAIL}: https://podium.example.org/login?token=" in caplog.text


async def test_loops_server_error_is_502_and_uses_no_slot(
    client: httpx.AsyncClient, make_user: MakeUser, loops: FakeLoops, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    loops.fail_next(2, status=500)
    for _ in range(2):
        response = await request_login(client)
        assert response.status_code == 502
        assert error_code(response) == "mail_provider_failed"
        assert "500" in response.json()["error"]["message"]
    assert await mails_recorded(db) == 0
    # Both failures left the whole allowance: LIMIT mails still go out.
    statuses = [(await request_login(client)).status_code for _ in range(LIMIT + 1)]
    assert statuses == [202] * LIMIT + [429]
    assert len(loops.requests) == 2 + LIMIT


async def test_loops_refusing_the_key_is_502(
    client: httpx.AsyncClient, make_user: MakeUser, loops: FakeLoops, use_settings: Any
) -> None:
    use_settings(**{**loops.settings_update(), "loops_api_key": SecretStr("wrong-key")})
    await make_user(email=EMAIL)
    response = await request_login(client)
    assert response.status_code == 502
    assert error_code(response) == "mail_provider_failed"
    assert "401" in response.json()["error"]["message"]


async def test_loops_too_slow_is_502(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    loops: FakeLoops,
    db: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mail, "LOOPS_TIMEOUT_SECONDS", 0.3)
    loops.delay = 5
    await make_user(email=EMAIL)
    response = await request_login(client)
    assert response.status_code == 502
    assert error_code(response) == "mail_provider_failed"
    assert "in time" in response.json()["error"]["message"]
    assert await mails_recorded(db) == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_loops_unreachable_is_502(
    client: httpx.AsyncClient, make_user: MakeUser, use_settings: Any
) -> None:
    use_settings(
        loops_api_url=f"http://127.0.0.1:{closed_port()}",
        loops_api_key=SecretStr(LOOPS_KEY),
        loops_transactional_id="tx-login-link",
    )
    await make_user(email=EMAIL)
    response = await request_login(client)
    assert response.status_code == 502
    assert error_code(response) == "mail_provider_failed"


async def test_loops_key_without_a_transactional_id_is_503(
    client: httpx.AsyncClient, make_user: MakeUser, use_settings: Any
) -> None:
    use_settings(loops_api_key=SecretStr(LOOPS_KEY), loops_transactional_id=None)
    await make_user(email=EMAIL)
    response = await request_login(client)
    assert response.status_code == 503
    assert error_code(response) == "mail_not_configured"


# -- throttle ---------------------------------------------------------------------------------


async def test_login_mails_beyond_the_limit_are_429_with_retry_after(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    for _ in range(LIMIT):
        assert (await request_login(client)).status_code == 202
    response = await request_login(client, "Ada@Example.com")
    assert response.status_code == 429
    assert error_code(response) == "too_many_login_requests"
    assert WINDOW - 60 < int(response.headers["retry-after"]) <= WINDOW
    assert await mails_recorded(db) == LIMIT


async def test_retry_after_counts_down_to_when_the_oldest_counted_mail_expires(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    await db.execute(
        "INSERT INTO login_mails (email, created_at)"
        " SELECT $1, now() - make_interval(secs => s) FROM unnest($2::int[]) AS s",
        EMAIL,
        [500, 20, 10],
    )
    response = await request_login(client)
    assert response.status_code == 429
    assert 95 <= int(response.headers["retry-after"]) <= 100


async def test_mails_older_than_the_window_do_not_count(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    await db.execute(
        "INSERT INTO login_mails (email, created_at)"
        " SELECT $1, now() - make_interval(secs => $2 + n) FROM generate_series(1, 5) AS n",
        EMAIL,
        WINDOW,
    )
    assert (await request_login(client)).status_code == 202
    # Expired rows of the address are pruned as it is counted.
    assert await mails_recorded(db) == 1


async def test_the_throttle_is_per_address(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    await make_user(email=EMAIL)
    await make_user(email="grace@example.com")
    for _ in range(LIMIT):
        assert (await request_login(client)).status_code == 202
    assert (await request_login(client)).status_code == 429
    assert (await request_login(client, "grace@example.com")).status_code == 202


async def test_the_throttle_follows_the_configured_limit(
    client: httpx.AsyncClient, make_user: MakeUser, use_settings: Any
) -> None:
    use_settings(login_mails_per_window=1, login_mail_window_seconds=60)
    await make_user(email=EMAIL)
    assert (await request_login(client)).status_code == 202
    response = await request_login(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_concurrent_login_requests_send_exactly_the_limit(
    client: httpx.AsyncClient, make_user: MakeUser, loops: FakeLoops, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    responses = await asyncio.gather(*(request_login(client) for _ in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [202] * LIMIT + [429] * (20 - LIMIT)
    assert len(loops.requests) == LIMIT
    assert await mails_recorded(db) == LIMIT


async def test_no_database_connection_is_held_while_the_mail_is_sent(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow mail provider must not hold a transaction, a lock or a pooled connection.
    held: list[int] = []
    send = mail.send_login_link

    async def watched_send(*args: Any) -> None:
        pool = app.state.database.pool
        held.append(pool.get_size() - pool.get_idle_size())
        await send(*args)

    monkeypatch.setattr("podium.services.auth.send_login_link", watched_send)
    await make_user(email=EMAIL)
    assert (await request_login(client)).status_code == 202
    assert held == [0]
