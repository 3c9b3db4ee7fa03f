"""Magic-link login: the request's rules, and which tokens /verify and bearer auth accept."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import jwt
import pytest

from podium.ids import Entity
from podium.public_ids import public_id
from podium.security import TokenType, create_token
from tests.api.conftest import error_code, login_link_token
from tests.conftest import TEST_JWT_SECRET, MakeUser

EMAIL = "ada@example.com"
LINK_LINE = re.compile(r"LOGIN LINK for (\S+): (\S+)")


def magic_link_token(email: str = EMAIL, lifetime: timedelta = timedelta(minutes=15)) -> str:
    return create_token(email, TokenType.MAGIC_LINK, TEST_JWT_SECRET, lifetime)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(
    header: dict[str, Any],
    claims: dict[str, Any],
    key: bytes | None = TEST_JWT_SECRET.encode(),
    digest: Callable[[], Any] = hashlib.sha256,
) -> str:
    """A JWT assembled by hand, so its header can claim anything."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def claims(token_type: str = "magic_link", **extra: Any) -> dict[str, Any]:
    exp = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    return {"sub": EMAIL, "token_type": token_type, "exp": exp, **extra}


async def verify(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/verify", params={"token": token})


# -- /verify ----------------------------------------------------------------------------------


async def test_verify_exchanges_a_magic_link_for_an_access_token(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user(email=EMAIL, first_name="Ada", last_name="Lovelace")
    response = await verify(client, await login_link_token(db, EMAIL))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["id"] == public_id(Entity.USER, user.seq)
    assert body["user"]["email"] == EMAIL
    assert body["user"]["first_name"] == "Ada"
    token_claims = jwt.decode(body["access_token"], TEST_JWT_SECRET, algorithms=["HS256"])
    assert (token_claims["sub"], token_claims["token_type"]) == (EMAIL, "access")
    assert (token_claims["uid"], token_claims["gen"]) == (body["user"]["id"], 0)
    lifetime = token_claims["exp"] - datetime.now(UTC).timestamp()
    assert (
        timedelta(days=2) - timedelta(minutes=1) < timedelta(seconds=lifetime) <= timedelta(days=2)
    )
    current = await client.get(
        "/users/current", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert current.status_code == 200
    assert current.json()["email"] == EMAIL


async def test_verify_refuses_a_magic_link_minted_the_v1_way(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    # A v1 link has no `jti`, so nothing to use up: links in flight at the cutover are refused.
    await make_user(email=EMAIL)
    v1_token = jwt.encode(
        {
            "sub": EMAIL,
            "token_type": "magic_link",
            "exp": datetime.now(UTC) + timedelta(minutes=15),
        },
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    response = await verify(client, v1_token)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert "request a new one" in response.json()["error"]["message"]


async def test_verify_refuses_an_expired_magic_link(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email=EMAIL)
    response = await verify(client, magic_link_token(lifetime=timedelta(seconds=-1)))
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"
    assert "expired" in response.json()["error"]["message"]


async def test_verify_refuses_a_token_with_a_tampered_signature(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email=EMAIL)
    head, payload, signature = magic_link_token().split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    response = await verify(client, f"{head}.{payload}.{flipped}")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


async def test_verify_refuses_a_token_with_a_tampered_subject(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email=EMAIL)
    await make_user(email="mallory@example.com")
    head, _, signature = magic_link_token(email="mallory@example.com").split(".")
    forged_payload = b64url(json.dumps(claims()).encode())
    response = await verify(client, f"{head}.{forged_payload}.{signature}")
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


async def test_verify_refuses_an_access_token(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email=EMAIL)
    access = create_token(EMAIL, TokenType.ACCESS, TEST_JWT_SECRET, timedelta(hours=1))
    response = await verify(client, access)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda: hand_made_token({"alg": "none", "typ": "JWT"}, claims(), key=None),
            id="alg-none",
        ),
        pytest.param(
            lambda: hand_made_token({"alg": "None", "typ": "JWT"}, claims(), key=None),
            id="alg-None",
        ),
        pytest.param(
            lambda: hand_made_token({"alg": "HS512"}, claims(), digest=hashlib.sha512), id="hs512"
        ),
        pytest.param(
            lambda: hand_made_token({"alg": "RS256", "typ": "JWT"}, claims()),
            id="rs256-header-hmac-signed",
        ),
        pytest.param(
            lambda: jwt.encode(claims(), "another-secret-" + "y" * 32, algorithm="HS256"),
            id="wrong-secret",
        ),
        pytest.param(
            lambda: hand_made_token(
                {"alg": "HS256", "typ": "JWT"}, {k: v for k, v in claims().items() if k != "exp"}
            ),
            id="no-expiry",
        ),
        pytest.param(
            lambda: hand_made_token(
                {"alg": "HS256", "typ": "JWT"}, {k: v for k, v in claims().items() if k != "sub"}
            ),
            id="no-subject",
        ),
        pytest.param(
            lambda: hand_made_token(
                {"alg": "HS256", "typ": "JWT"},
                {k: v for k, v in claims().items() if k != "token_type"},
            ),
            id="no-token-type",
        ),
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: "a.b.c", id="garbage-segments"),
    ],
)
async def test_verify_refuses_forged_and_malformed_tokens(
    client: httpx.AsyncClient, make_user: MakeUser, make_token: Callable[[], str]
) -> None:
    await make_user(email=EMAIL)
    response = await verify(client, make_token())
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


async def test_verify_refuses_a_token_of_a_user_that_no_longer_exists(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    token = await login_link_token(db, EMAIL)
    await db.execute("DELETE FROM users WHERE email = $1", EMAIL)
    response = await verify(client, token)
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


async def test_verify_without_a_token_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/verify")
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_verify_with_an_oversized_token_is_422(client: httpx.AsyncClient) -> None:
    response = await verify(client, "x" * 5000)
    assert response.status_code == 422


# -- bearer access tokens ---------------------------------------------------------------------


async def test_an_access_token_minted_the_v1_way_is_accepted(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email=EMAIL)
    v1_token = jwt.encode(
        {"sub": EMAIL, "exp": datetime.now(UTC) + timedelta(days=2), "token_type": "access"},
        TEST_JWT_SECRET,
        algorithm="HS256",
    )
    response = await client.get("/users/current", headers={"Authorization": f"Bearer {v1_token}"})
    assert response.status_code == 200
    assert response.json()["email"] == EMAIL


async def test_a_magic_link_token_is_not_an_access_token(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    token = await login_link_token(db, EMAIL)
    response = await client.get("/users/current", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_code(response) == "invalid_token"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda: hand_made_token({"alg": "none"}, claims("access"), key=None), id="alg-none"
        ),
        pytest.param(
            lambda: hand_made_token({"alg": "HS512"}, claims("access"), digest=hashlib.sha512),
            id="hs512",
        ),
        pytest.param(
            lambda: create_token(EMAIL, TokenType.ACCESS, TEST_JWT_SECRET, timedelta(seconds=-1)),
            id="expired",
        ),
        pytest.param(
            lambda: jwt.encode(claims("access"), "another-secret-" + "y" * 32, algorithm="HS256"),
            id="wrong-secret",
        ),
    ],
)
async def test_bearer_auth_refuses_bad_access_tokens(
    client: httpx.AsyncClient, make_user: MakeUser, make_token: Callable[[], str]
) -> None:
    await make_user(email=EMAIL)
    response = await client.get(
        "/users/current", headers={"Authorization": f"Bearer {make_token()}"}
    )
    assert response.status_code == 401


# -- POST /request-login (development mode: the link goes to the log) ------------------------


def logged_links(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (match[1], match[2])
        for record in caplog.records
        if (match := LINK_LINE.fullmatch(record.getMessage()))
    ]


async def test_login_round_trip_from_request_to_profile(
    client: httpx.AsyncClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    await make_user(email=EMAIL)
    response = await client.post(
        "/request-login", params={"redirect": "/events/abc?tab=vote"}, json={"email": EMAIL}
    )
    assert response.status_code == 202
    assert response.json() == {"sent": True, "expires_in_minutes": 15}
    [(email, link)] = logged_links(caplog)
    assert email == EMAIL
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://localhost:5173/login"
    query = parse_qs(parts.query)
    assert query["redirect"] == ["/events/abc?tab=vote"]
    [token] = query["token"]
    token_claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    assert (token_claims["sub"], token_claims["token_type"]) == (EMAIL, "magic_link")
    lifetime = token_claims["exp"] - datetime.now(UTC).timestamp()
    assert 14 * 60 < lifetime <= 15 * 60
    session = (await verify(client, token)).json()
    current = await client.get(
        "/users/current", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert current.json()["email"] == EMAIL


async def test_request_login_matches_the_email_in_any_case(
    client: httpx.AsyncClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    await make_user(email=EMAIL)
    response = await client.post("/request-login", json={"email": "  ADA@Example.com "})
    assert response.status_code == 202
    [(email, link)] = logged_links(caplog)
    assert email == EMAIL
    assert "redirect" not in parse_qs(urlsplit(link).query)


async def test_request_login_with_an_empty_redirect_sends_a_link_without_one(
    client: httpx.AsyncClient, make_user: MakeUser, caplog: pytest.LogCaptureFixture
) -> None:
    # v1's frontend always sends the parameter, empty when there is nowhere to go back to.
    caplog.set_level(logging.WARNING, logger="podium.services.mail")
    await make_user(email=EMAIL)
    response = await client.post("/request-login?redirect=", json={"email": EMAIL})
    assert response.status_code == 202
    [(_, link)] = logged_links(caplog)
    assert "redirect" not in parse_qs(urlsplit(link).query)


async def test_request_login_for_an_unknown_email_is_404(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    response = await client.post("/request-login", json={"email": "nobody@example.com"})
    assert response.status_code == 404
    assert error_code(response) == "user_not_found"
    assert await db.fetchval("SELECT count(*) FROM login_mails") == 0


@pytest.mark.parametrize(
    "redirect",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        "/%09/evil.example",
        "javascript:alert(1)",
        "events/abc",
        "/" + "a" * 2000,
    ],
)
async def test_request_login_refuses_a_redirect_off_the_site(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool, redirect: str
) -> None:
    await make_user(email=EMAIL)
    response = await client.post(
        "/request-login", params={"redirect": redirect}, json={"email": EMAIL}
    )
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert await db.fetchval("SELECT count(*) FROM login_mails") == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-email"),
        pytest.param({"email": "no-at-sign"}, id="malformed"),
        pytest.param({"email": "ada\x00@example.com"}, id="nul"),
        pytest.param({"email": "a" * 300 + "@example.com"}, id="too-long"),
        pytest.param({"email": ["ada@example.com"]}, id="not-a-string"),
    ],
)
async def test_request_login_with_a_malformed_body_is_422(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/request-login", json=body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
