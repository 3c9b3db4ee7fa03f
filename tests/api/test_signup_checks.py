"""Sign-up checks (issue #15): disposable addresses refused at sign-up and login; Cloudflare
Turnstile against a local fake of siteverify (success, failure, timeout, fail closed and open)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from podium.config import Settings
from podium.services.signup_checks import is_disposable
from podium_devtools.fake_turnstile import FakeTurnstile
from podium_devtools.sockets import free_port
from tests.api.conftest import assert_error
from tests.conftest import MakeUser

SIGN_UP = {"email": "ada@example.com", "first_name": "Ada"}


@pytest.fixture
def use_settings(app: FastAPI, settings: Settings) -> Iterator[Callable[..., None]]:
    def use(**changes: Any) -> None:
        app.state.settings = settings.model_copy(update=changes)

    yield use
    app.state.settings = settings


@pytest.fixture
def turnstile(use_settings: Callable[..., None]) -> Iterator[FakeTurnstile]:
    with FakeTurnstile(secret="turnstile-test-secret") as fake:
        use_settings(**fake.settings_update(), turnstile_timeout=0.5)
        yield fake


async def sign_up(client: httpx.AsyncClient, token: str | None = None) -> httpx.Response:
    headers = {"X-Turnstile-Token": token} if token is not None else {}
    return await client.post("/users/", json=SIGN_UP, headers=headers)


async def accounts(db: asyncpg.Pool) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM users")
    return count


# -- disposable addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["kid@mailinator.com", "kid@YOPMAIL.com", "kid@inbox.mailinator.com"]
)
async def test_sign_up_with_a_disposable_address_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, email: str
) -> None:
    response = await client.post("/users/", json={"email": email, "first_name": "Kid"})

    assert_error(response, 422, "disposable_email")
    assert await accounts(db) == 0


async def test_login_with_a_disposable_address_is_422_even_for_an_existing_account(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email="old@mailinator.com")  # a v1 account, from before the check

    response = await client.post("/request-login", json={"email": "old@mailinator.com"})

    assert_error(response, 422, "disposable_email")
    assert await db.fetchval("SELECT count(*) FROM login_mails") == 0


@pytest.mark.parametrize(
    ("email", "disposable"),
    [
        ("ada@example.com", False),
        ("ada@gmail.com", False),
        ("ada@mailinator.com.example.org", False),  # a listed name inside, not the domain
        ("ada@sub.yopmail.com", True),
        ("ada@yopmail.com.", True),
    ],
)
def test_disposable_means_the_domain_or_a_parent_is_listed(email: str, disposable: bool) -> None:
    assert is_disposable(email) is disposable


async def test_an_ordinary_address_signs_up_without_turnstile_configured(
    client: httpx.AsyncClient,
) -> None:
    assert (await sign_up(client)).status_code == 201


# -- Turnstile --------------------------------------------------------------------------------


async def test_a_valid_turnstile_token_signs_up_and_is_checked_with_the_secret(
    client: httpx.AsyncClient, turnstile: FakeTurnstile, db: asyncpg.Pool
) -> None:
    turnstile.accept("good-token")

    response = await sign_up(client, "good-token")

    assert response.status_code == 201, response.text
    [checked] = turnstile.requests
    assert checked.form == {
        "secret": "turnstile-test-secret",
        "response": "good-token",
        "remoteip": "127.0.0.1",
    }
    assert await accounts(db) == 1


@pytest.mark.parametrize("token", [None, "", "forged-token"])
async def test_a_missing_or_refused_turnstile_token_is_403(
    client: httpx.AsyncClient, turnstile: FakeTurnstile, db: asyncpg.Pool, token: str | None
) -> None:
    response = await sign_up(client, token)

    assert_error(response, 403, "turnstile_failed")
    assert await accounts(db) == 0


async def test_a_turnstile_token_works_once(
    client: httpx.AsyncClient, turnstile: FakeTurnstile
) -> None:
    turnstile.accept("good-token")
    assert (await sign_up(client, "good-token")).status_code == 201

    response = await client.post(
        "/users/",
        json={"email": "grace@example.com", "first_name": "Grace"},
        headers={"X-Turnstile-Token": "good-token"},
    )
    assert_error(response, 403, "turnstile_failed")


@pytest.mark.parametrize("trouble", ["timeout", "server error", "not json", "unreachable"])
async def test_siteverify_out_of_order_refuses_sign_up_by_default(
    client: httpx.AsyncClient,
    turnstile: FakeTurnstile,
    use_settings: Callable[..., None],
    db: asyncpg.Pool,
    trouble: str,
) -> None:
    turnstile.accept("good-token")
    _break(turnstile, use_settings, trouble, fail_open=False)

    response = await sign_up(client, "good-token")

    assert_error(response, 503, "turnstile_unavailable")
    assert int(response.headers["Retry-After"]) >= 1
    assert await accounts(db) == 0


@pytest.mark.parametrize("trouble", ["timeout", "server error", "not json", "unreachable"])
async def test_siteverify_out_of_order_lets_sign_up_through_when_failing_open(
    client: httpx.AsyncClient,
    turnstile: FakeTurnstile,
    use_settings: Callable[..., None],
    db: asyncpg.Pool,
    trouble: str,
) -> None:
    _break(turnstile, use_settings, trouble, fail_open=True)

    response = await sign_up(client, "any-token")

    assert response.status_code == 201, response.text
    assert await accounts(db) == 1


async def test_failing_open_still_refuses_a_token_siteverify_rejects(
    client: httpx.AsyncClient, turnstile: FakeTurnstile, use_settings: Callable[..., None]
) -> None:
    use_settings(**turnstile.settings_update(), turnstile_fail_open=True)

    assert_error(await sign_up(client, "forged-token"), 403, "turnstile_failed")


def _break(
    turnstile: FakeTurnstile, use_settings: Callable[..., None], trouble: str, *, fail_open: bool
) -> None:
    url = turnstile.verify_url
    if trouble == "timeout":
        turnstile.delay = 2.0  # past the 0.5 s the app waits
    elif trouble == "server error":
        turnstile.fail_next(500)
    elif trouble == "not json":
        turnstile.fail_next(200)  # the injected body has no `success`
    else:
        url = f"http://127.0.0.1:{free_port()}/siteverify"
    use_settings(
        **{**turnstile.settings_update(), "turnstile_verify_url": url},
        turnstile_timeout=0.5,
        turnstile_fail_open=fail_open,
    )
