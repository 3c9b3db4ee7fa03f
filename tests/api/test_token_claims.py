"""The token-claims catalogue: a validly signed token with malformed claims is a 401
`invalid_token`, never a 500, on bearer auth and on /verify alike."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api.conftest import assert_error
from tests.conftest import TEST_JWT_SECRET, MakeUser

EMAIL = "ada@example.com"
HEADER = {"alg": "HS256", "typ": "JWT"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(payload: bytes, header: bytes = json.dumps(HEADER).encode()) -> str:
    """A token with exactly these payload bytes, correctly signed with the app's secret."""
    signing_input = f"{b64url(header)}.{b64url(payload)}"
    digest = hmac.new(TEST_JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(digest)}"


def with_claims(kind: str, **changes: Any) -> str:
    """A signed token of type `kind` whose claims are the good ones with `changes` (None
    removes a claim)."""
    now = datetime.now(UTC)
    exp, iat = int((now + timedelta(minutes=10)).timestamp()), int(now.timestamp())
    claims: dict[str, Any] = {"sub": EMAIL, "token_type": kind, "exp": exp, "iat": iat}
    claims.update(changes)
    kept = {name: value for name, value in claims.items() if value is not None}
    return signed(json.dumps(kept).encode())


# (id, claims changed): each is refused whatever the token type.
CLAIMS = [
    ("sub-nul", {"sub": "ada\x00@example.com"}),
    ("sub-only-nul", {"sub": "\x00"}),
    ("sub-lone-surrogate", {"sub": "ada\ud800@example.com"}),
    ("sub-low-surrogate", {"sub": "\udfff"}),
    ("sub-int", {"sub": 42}),
    ("sub-float", {"sub": 4.2}),
    ("sub-bool", {"sub": True}),
    ("sub-list", {"sub": [EMAIL]}),
    ("sub-object", {"sub": {"email": EMAIL}}),
    ("sub-empty", {"sub": ""}),
    ("sub-blank", {"sub": "   "}),
    ("sub-huge", {"sub": "a" * 3000 + "@example.com"}),
    ("exp-text", {"exp": "tomorrow"}),
    ("exp-numeric-text", {"exp": "99999999999"}),
    ("exp-bool", {"exp": True}),
    ("exp-list", {"exp": [99999999999]}),
    ("exp-object", {"exp": {"at": 99999999999}}),
    ("exp-null", {"exp": None}),
    ("exp-infinity", {"exp": float("inf")}),
    ("exp-nan", {"exp": float("nan")}),
    ("exp-negative", {"exp": -1}),
    ("iat-text", {"iat": "now"}),
    ("iat-list", {"iat": [1]}),
    ("iat-infinity", {"iat": float("-inf")}),
    ("iat-bool", {"iat": False}),
    ("uid-int", {"uid": 7}),
    ("uid-garbage", {"uid": "not-an-id"}),
    ("uid-event-id", {"uid": "e_NkM7Ied"}),
    ("uid-nul", {"uid": "u_\x00\x00\x00\x00\x00\x00\x00"}),
    ("uid-list", {"uid": ["u_NkM7Ied"]}),
    ("gen-text", {"gen": "0"}),
    ("gen-negative", {"gen": -1}),
    ("gen-bool", {"gen": False}),
    ("gen-float", {"gen": 0.0}),
    ("gen-huge", {"gen": 2**63}),
    ("gen-list", {"gen": [0]}),
    ("jti-int", {"jti": 12345}),
    ("jti-empty", {"jti": ""}),
    ("jti-huge", {"jti": "x" * 500}),
    ("token-type-int", {"token_type": 1}),
    ("token-type-list", {"token_type": ["access", "magic_link"]}),
]
# Tokens malformed in their structure rather than their claims.
STRUCTURES: list[tuple[str, Callable[[str], str]]] = [
    ("payload-array", lambda _: signed(b'["sub", "exp"]')),
    ("payload-string", lambda _: signed(b'"ada@example.com"')),
    ("payload-number", lambda _: signed(b"12")),
    ("payload-not-json", lambda _: signed(b"{sub: ada}")),
    ("payload-not-utf8", lambda _: signed(b'{"sub": "\xff\xfe"}')),
    (
        "payload-deeply-nested",
        lambda _: signed(b'{"sub": ' + b"[" * 1200 + b"]" * 1200 + b"}"),
    ),
    ("header-array", lambda t: signed(json.dumps({"sub": EMAIL}).encode(), header=b"[1]")),
    ("header-not-json", lambda t: signed(b"{}", header=b"not json")),
    ("header-alg-list", lambda t: signed(b"{}", header=b'{"alg": ["HS256"]}')),
    (
        "duplicate-sub-last-nul",
        lambda t: signed(
            f'{{"sub": "{EMAIL}", "token_type": "{t}", "exp": 99999999999, "sub": "a\\u0000"}}'.encode()
        ),
    ),
    ("two-segments", lambda t: with_claims(t).rsplit(".", 1)[0]),
    ("four-segments", lambda t: with_claims(t) + ".AAAA"),
    ("non-ascii", lambda t: with_claims(t)[:-4] + "éé"),
]


def catalogue() -> list[Any]:
    params = [
        pytest.param(lambda t, c=changes: with_claims(t, **c), id=name) for name, changes in CLAIMS
    ]
    params += [pytest.param(make, id=name) for name, make in STRUCTURES]
    return params


@pytest.mark.parametrize("make_token", catalogue())
async def test_bearer_auth_refuses_malformed_claims_with_a_401(
    client: httpx.AsyncClient, make_user: MakeUser, make_token: Callable[[str], str]
) -> None:
    await make_user(email=EMAIL)
    token = make_token("access")
    response = await client.get(
        "/users/current", headers={"Authorization": f"Bearer {token}".encode()}
    )
    assert_error(response, 401, "invalid_token")


@pytest.mark.parametrize("make_token", catalogue())
async def test_verify_refuses_malformed_claims_with_a_401(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    db: asyncpg.Pool,
    make_token: Callable[[str], str],
) -> None:
    await make_user(email=EMAIL)
    link_id = await db.fetchval(
        "INSERT INTO login_links (email, expires_at) VALUES ($1, now() + interval '15 minutes')"
        " RETURNING id",
        EMAIL,
    )
    token = make_token("magic_link")
    response = await client.get("/verify", params={"token": token})
    # /verify takes at most 4,096 characters: a longer token is a malformed request.
    assert_error(
        response, *((422, "validation_error") if len(token) > 4096 else (401, "invalid_token"))
    )
    assert await db.fetchval("SELECT used_at FROM login_links WHERE id = $1", link_id) is None


@pytest.mark.parametrize(
    "jti", ["not-a-uuid", 7, "00000000-0000-0000-0000-000000000000", "\x00"], ids=str
)
async def test_verify_refuses_a_link_id_that_names_no_link(
    client: httpx.AsyncClient, make_user: MakeUser, jti: object
) -> None:
    await make_user(email=EMAIL)
    response = await client.get("/verify", params={"token": with_claims("magic_link", jti=jti)})
    assert_error(response, 401, "invalid_token")


async def test_a_huge_bearer_token_is_a_401(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/users/current", headers={"Authorization": "Bearer " + "a" * 100_000}
    )
    assert_error(response, 401, "invalid_token")


async def test_a_huge_login_link_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/verify", params={"token": "a" * 10_000})
    assert_error(response, 422, "validation_error")


async def test_the_good_claims_of_the_catalogue_are_accepted(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    # The catalogue's base token is good, so each case fails for its one change.
    await make_user(email=EMAIL)
    response = await client.get(
        "/users/current", headers={"Authorization": f"Bearer {with_claims('access')}"}
    )
    assert response.status_code == 200, response.text


def test_a_token_kept_as_verified_is_refused_once_it_expires() -> None:
    # read_token keeps tokens that verified (podium.security._verified_claims); expiry is the one
    # check a kept token can fail later, so it must be made at every use, not only the first.
    from podium.security import InvalidToken, TokenType, read_token

    token = with_claims("access")
    claims = read_token(token, TokenType.ACCESS, TEST_JWT_SECRET)
    assert read_token(token, TokenType.ACCESS, TEST_JWT_SECRET) == claims  # kept
    with pytest.raises(InvalidToken):
        read_token(token, TokenType.ACCESS, TEST_JWT_SECRET, now=claims.expires_at)
    with pytest.raises(InvalidToken):  # nor is a kept token good for another type or secret
        read_token(token, TokenType.MAGIC_LINK, TEST_JWT_SECRET)
    with pytest.raises(InvalidToken):
        read_token(token, TokenType.ACCESS, "another secret of enough length for HS256")
