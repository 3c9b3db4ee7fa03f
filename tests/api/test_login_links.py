"""A magic link logs in once: a second use, an older link and a v1 link are refused."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from podium.config import Settings
from podium_devtools.fake_loops import FakeLoops
from tests.api.conftest import assert_error, login_link_token
from tests.conftest import MakeUser

EMAIL = "ada@example.com"
LINK_LINE = re.compile(r"LOGIN LINK for (\S+): (\S+)")


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/verify", params={"token": token})


async def requested_link(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, email: str = EMAIL
) -> str:
    """POST /request-login, and the token of the link development prints."""
    caplog.clear()
    response = await client.post("/request-login", json={"email": email})
    assert response.status_code == 202, response.text
    [token] = [
        parse_qs(urlsplit(match[2]).query)["token"][0]
        for record in caplog.records
        if (match := LINK_LINE.fullmatch(record.getMessage())) and match[1] == email
    ]
    return token


@pytest.fixture
def mail_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    return caplog


async def test_a_link_used_twice_is_refused_the_second_time(
    client: httpx.AsyncClient, make_user: MakeUser, mail_log: pytest.LogCaptureFixture
) -> None:
    await make_user(email=EMAIL)
    token = await requested_link(client, mail_log)
    first = await verify(client, token)
    assert first.status_code == 200, first.text
    again = await verify(client, token)
    assert_error(again, 401, "link_used")
    # The access token the first use gave stays good.
    headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert (await client.get("/users/current", headers=headers)).status_code == 200


async def test_a_newer_link_supersedes_the_older_one(
    client: httpx.AsyncClient, make_user: MakeUser, mail_log: pytest.LogCaptureFixture
) -> None:
    await make_user(email=EMAIL)
    older = await requested_link(client, mail_log)
    newer = await requested_link(client, mail_log)
    assert_error(await verify(client, older), 401, "link_superseded")
    assert (await verify(client, newer)).status_code == 200
    # Used, the newest link is "used", not "superseded".
    assert_error(await verify(client, newer), 401, "link_used")


async def test_a_link_of_another_address_does_not_supersede(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    await make_user(email="grace@example.com")
    ada = await login_link_token(db, EMAIL)
    await login_link_token(db, "grace@example.com")
    assert (await verify(client, ada)).status_code == 200


async def test_twenty_concurrent_uses_of_one_link_log_in_once(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    token = await login_link_token(db, EMAIL)
    responses = await asyncio.gather(*(verify(client, token) for _ in range(20)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 19
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 401} == {"link_used"}
    assert await db.fetchval("SELECT count(*) FROM login_links WHERE used_at IS NOT NULL") == 1


async def test_a_link_whose_row_is_gone_is_refused(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    token = await login_link_token(db, EMAIL)
    await db.execute("DELETE FROM login_links")
    response = await verify(client, token)
    assert_error(response, 401, "invalid_token")


async def test_a_link_signed_for_another_address_than_its_row_is_refused(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    # A jti names a row of one address only: a token for Mallory cannot use Ada's row.
    from podium.security import TokenType, create_token
    from tests.conftest import TEST_JWT_SECRET

    await make_user(email=EMAIL)
    await make_user(email="mallory@example.com")
    link_id = await db.fetchval(
        "INSERT INTO login_links (email, expires_at) VALUES ($1, now() + interval '15 minutes')"
        " RETURNING id",
        EMAIL,
    )
    forged = create_token(
        "mallory@example.com",
        TokenType.MAGIC_LINK,
        TEST_JWT_SECRET,
        timedelta(minutes=15),
        jti=str(link_id),
    )
    assert_error(await verify(client, forged), 401, "invalid_token")


async def test_issuing_a_link_prunes_the_address_expired_ones(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    mail_log: pytest.LogCaptureFixture,
) -> None:
    await make_user(email=EMAIL)
    await db.execute(
        "INSERT INTO login_links (email, created_at, expires_at) VALUES"
        " ($1, now() - interval '1 hour', now() - interval '45 minutes'),"
        " ('other@example.com', now() - interval '1 hour', now() - interval '45 minutes')",
        EMAIL,
    )
    await requested_link(client, mail_log)
    rows = await db.fetch("SELECT email FROM login_links WHERE expires_at > now()")
    assert [row["email"] for row in rows] == [EMAIL]
    # Another address's expired link waits for that address's next link.
    assert await db.fetchval("SELECT count(*) FROM login_links") == 2


async def test_a_link_whose_mail_was_not_sent_does_not_supersede(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    app: FastAPI,
    settings: Settings,
) -> None:
    await make_user(email=EMAIL)
    with FakeLoops(api_key="loops-test-key", transactional_id="tx-login-link") as loops:
        app.state.settings = settings.model_copy(update=loops.settings_update())
        try:
            assert (await client.post("/request-login", json={"email": EMAIL})).status_code == 202
            loops.fail_next(1, status=500)
            response = await client.post("/request-login", json={"email": EMAIL})
            assert_error(response, 502, "mail_provider_failed")
        finally:
            app.state.settings = settings
        [delivered, _] = loops.requests
    link = delivered.json["dataVariables"]["auth_link"]
    assert await db.fetchval("SELECT count(*) FROM login_links") == 1
    assert (await verify(client, parse_qs(urlsplit(link).query)["token"][0])).status_code == 200
