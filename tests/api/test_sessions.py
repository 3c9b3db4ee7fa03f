"""Sessions you can end: POST /logout (this token), POST /logout/everywhere (every token), and
what the current-user lookup costs for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import jwt

from podium.models import User
from tests.api.conftest import assert_error, login_link_token
from tests.conftest import TEST_JWT_SECRET, MakeUser, access_token

EMAIL = "ada@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def logged_in(client: httpx.AsyncClient, db: asyncpg.Pool, email: str = EMAIL) -> str:
    """An access token from a real login (a link, then /verify)."""
    response = await client.get("/verify", params={"token": await login_link_token(db, email)})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def current(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/users/current", headers=bearer(token))


def v1_access_token(email: str = EMAIL, issued_ago: timedelta = timedelta(0)) -> str:
    """An access token exactly as v1 minted it: sub, token_type, exp two days on, nothing else."""
    exp = datetime.now(UTC) - issued_ago + timedelta(days=2)
    return jwt.encode(
        {"sub": email, "token_type": "access", "exp": exp}, TEST_JWT_SECRET, algorithm="HS256"
    )


def respelt(token: str) -> str:
    """The same token with its signature's last base64 character spelt differently: the two
    bits it carries beyond the 256-bit signature are flipped, so it still verifies."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    return token[:-1] + alphabet[last ^ 0b01]


async def test_logout_ends_this_token_and_no_other(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    laptop, phone = await logged_in(client, db), await logged_in(client, db)
    assert laptop != phone
    response = await client.post("/logout", headers=bearer(laptop))
    assert response.status_code == 204, response.text
    assert_error(await current(client, laptop), 401, "invalid_token")
    assert (await current(client, phone)).status_code == 200
    # Logging out a token already logged out is a 401 like any other use of it.
    assert_error(await client.post("/logout", headers=bearer(laptop)), 401, "invalid_token")


async def test_a_token_spelt_anew_is_not_another_token(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    # A re-spelt signature must not dodge a logout: PyJWT refuses non-canonical base64, and the
    # revocation is keyed on the decoded signature besides (podium.security.token_id).
    await make_user(email=EMAIL)
    token = await logged_in(client, db)
    variant = respelt(token)
    assert variant != token
    assert_error(await current(client, variant), 401, "invalid_token")
    assert (await client.post("/logout", headers=bearer(token))).status_code == 204
    assert_error(await current(client, variant), 401, "invalid_token")


async def test_logout_of_a_v1_token_ends_it(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    await make_user(email=EMAIL)
    token, other = v1_access_token(), v1_access_token(issued_ago=timedelta(seconds=5))
    assert (await client.post("/logout", headers=bearer(token))).status_code == 204
    assert_error(await current(client, token), 401, "invalid_token")
    assert (await current(client, other)).status_code == 200


async def test_logout_everywhere_ends_every_token_v1_ones_included(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user(email=EMAIL)
    other_user = await make_user(email="grace@example.com")
    tokens = [await logged_in(client, db), await logged_in(client, db), v1_access_token()]
    minted_by_email = access_token(EMAIL)
    grace = await logged_in(client, db, "grace@example.com")
    # One already logged out: its row is no longer needed once the generation moves.
    assert (await client.post("/logout", headers=bearer(tokens[1]))).status_code == 204

    response = await client.post("/logout/everywhere", headers=bearer(tokens[0]))
    assert response.status_code == 204, response.text

    for token in [*tokens, minted_by_email]:
        assert_error(await current(client, token), 401, "invalid_token")
    assert (await current(client, grace)).status_code == 200
    assert await db.fetchval("SELECT token_generation FROM users WHERE id = $1", user.pk) == 1
    assert await db.fetchval("SELECT token_generation FROM users WHERE id = $1", other_user.pk) == 0
    assert await db.fetchval("SELECT count(*) FROM revoked_tokens WHERE user_id = $1", user.pk) == 0
    # A new login is of the new generation.
    fresh = await logged_in(client, db)
    assert jwt.decode(fresh, TEST_JWT_SECRET, algorithms=["HS256"])["gen"] == 1
    assert (await current(client, fresh)).status_code == 200


async def test_logout_prunes_the_users_expired_revocations(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    import uuid

    user = await make_user(email=EMAIL)
    await db.execute(
        "INSERT INTO revoked_tokens (token_id, user_id, expires_at)"
        " VALUES ($1, $2, now() - interval '1 minute')",
        uuid.uuid4(),
        user.pk,
    )
    token = await logged_in(client, db)
    assert (await client.post("/logout", headers=bearer(token))).status_code == 204
    rows = await db.fetch("SELECT expires_at FROM revoked_tokens")
    assert len(rows) == 1
    assert rows[0]["expires_at"] > datetime.now(UTC) + timedelta(days=1)


async def test_logout_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/logout"), 401, "unauthorized")
    assert_error(await client.post("/logout/everywhere"), 401, "unauthorized")


async def test_the_current_user_is_still_one_statement(
    client: httpx.AsyncClient, make_user: MakeUser, count_queries: list[str], db: asyncpg.Pool
) -> None:
    await make_user(email=EMAIL)
    token = await logged_in(client, db)
    count_queries.clear()
    assert (await current(client, token)).status_code == 200
    [statement] = count_queries
    assert "revoked_tokens" in statement and "FROM users" in statement


async def test_a_user_row_is_what_the_lookup_returns(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    # The joined column is not mistaken for a profile field.
    user: User = await make_user(email=EMAIL, first_name="Ada", phone="+15550100")
    body = (await current(client, await logged_in(client, db))).json()
    assert (body["first_name"], body["phone"]) == (user.first_name, "+15550100")
