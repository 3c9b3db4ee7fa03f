"""Users: sign-up, email lookup, own profile, public profile."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.public_ids import public_id
from tests.api.conftest import error_code
from tests.conftest import MakeUser, auth_headers

SIGN_UP = {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}


async def sign_up(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await client.post("/users/", json={**SIGN_UP, **fields})


# -- sign-up ----------------------------------------------------------------------------------


async def test_sign_up_returns_the_private_view_with_a_short_id(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    response = await sign_up(client, phone="+15550100", city="London", dob="1815-12-10")
    assert response.status_code == 201
    body = response.json()
    seq = await db.fetchval("SELECT seq FROM users WHERE email = 'ada@example.com'")
    assert body == {
        "id": public_id(Entity.USER, seq),
        "email": "ada@example.com",
        "display_name": "Ada L.",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+15550100",
        "street_1": "",
        "street_2": "",
        "city": "London",
        "state": "",
        "zip_code": "",
        "country": "",
        "dob": "1815-12-10",
    }


async def test_sign_up_stores_the_email_stripped_and_lower_cased(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    response = await sign_up(client, email="  Ada.Lovelace@Example.COM ")
    assert response.status_code == 201
    assert response.json()["email"] == "ada.lovelace@example.com"
    assert await db.fetchval("SELECT email FROM users") == "ada.lovelace@example.com"


async def test_sign_up_display_name_is_the_first_name_without_a_last_name(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/users/", json={"email": "cher@example.com", "first_name": "Cher"}
    )
    assert response.status_code == 201
    assert response.json()["display_name"] == "Cher"
    assert response.json()["last_name"] == ""


async def test_sign_up_keeps_a_given_display_name(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, display_name="  Countess  ")
    assert response.status_code == 201
    assert response.json()["display_name"] == "Countess"


async def test_sign_up_reads_null_optional_fields_as_empty(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, last_name=None, phone=None, display_name=None, dob=None)
    assert response.status_code == 201
    body = response.json()
    assert (body["last_name"], body["phone"], body["display_name"], body["dob"]) == (
        "",
        "",
        "Ada",
        None,
    )


async def test_sign_up_strips_the_names(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, first_name="  Ada ", last_name=" Lovelace  ")
    assert response.status_code == 201
    assert (response.json()["first_name"], response.json()["display_name"]) == ("Ada", "Ada L.")


async def test_sign_up_with_a_taken_email_is_409(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client)).status_code == 201
    response = await sign_up(client, email="ADA@example.com ", first_name="Other")
    assert response.status_code == 409
    assert error_code(response) == "email_taken"


async def test_concurrent_sign_ups_with_one_email_create_exactly_one_user(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    variants = ["ada@example.com", "ADA@example.com", " Ada@Example.com", "ada@EXAMPLE.COM"] * 5
    responses = await asyncio.gather(*(sign_up(client, email=email) for email in variants))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (len(variants) - 1)
    assert all(error_code(r) == "email_taken" for r in responses if r.status_code == 409)
    assert await db.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"email": "not-an-email"}, id="malformed-email"),
        pytest.param({"email": "a" * 250 + "@example.com"}, id="email-too-long"),
        pytest.param({"email": "ada\x00@example.com"}, id="email-nul"),
        pytest.param({"first_name": ""}, id="first-name-empty"),
        pytest.param({"first_name": "   "}, id="first-name-blank"),
        pytest.param({"first_name": "A" * 51}, id="first-name-too-long"),
        pytest.param({"first_name": None}, id="first-name-null"),
        pytest.param({"first_name": "Ada\x00"}, id="first-name-nul"),
        pytest.param({"last_name": "L" * 101}, id="last-name-too-long"),
        pytest.param({"display_name": "D" * 101}, id="display-name-too-long"),
        pytest.param({"phone": "1" * 51}, id="phone-too-long"),
        pytest.param({"street_1": "s" * 201}, id="street-too-long"),
        pytest.param({"city": "c" * 101}, id="city-too-long"),
        pytest.param({"zip_code": "1" * 21}, id="zip-code-too-long"),
        pytest.param({"country": "c" * 101}, id="country-too-long"),
        pytest.param({"street_2": "flat\x00 2"}, id="street-nul"),
        pytest.param({"city": 12}, id="city-not-a-string"),
        pytest.param({"dob": "not-a-date"}, id="dob-malformed"),
        pytest.param({"dob": (date.today() + timedelta(days=2)).isoformat()}, id="dob-future"),
    ],
)
async def test_sign_up_rejects_invalid_fields_with_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, fields: dict[str, Any]
) -> None:
    response = await sign_up(client, **fields)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_sign_up_without_an_email_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/users/", json={"first_name": "Ada"})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_sign_up_accepts_names_at_the_column_limits(client: httpx.AsyncClient) -> None:
    response = await sign_up(
        client, first_name="F" * 50, last_name="L" * 100, display_name="D" * 100, zip_code="9" * 20
    )
    assert response.status_code == 201


# -- exists -----------------------------------------------------------------------------------


async def test_exists_is_true_for_a_known_email_in_any_case(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user(email="ada@example.com")
    response = await client.get("/users/exists", params={"email": " ADA@Example.com"})
    assert response.status_code == 200
    assert response.json() == {"exists": True}


async def test_exists_is_false_for_an_unknown_email(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/exists", params={"email": "nobody@example.com"})
    assert response.status_code == 200
    assert response.json() == {"exists": False}


@pytest.mark.parametrize("email", ["", "no-at-sign", "a\x00@example.com", "a" * 300 + "@x.io"])
async def test_exists_with_a_malformed_email_is_422(client: httpx.AsyncClient, email: str) -> None:
    response = await client.get("/users/exists", params={"email": email})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_exists_without_an_email_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/exists")
    assert response.status_code == 422


# -- current ----------------------------------------------------------------------------------


async def test_current_returns_the_callers_private_profile(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(email="ada@example.com", first_name="Ada", phone="+15550100")
    response = await client.get("/users/current", headers=auth_headers(user))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == public_id(Entity.USER, user.seq)
    assert (body["email"], body["first_name"], body["phone"]) == (
        "ada@example.com",
        "Ada",
        "+15550100",
    )


async def test_current_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/current")
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


async def test_update_current_changes_only_the_given_fields(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user(first_name="Ada", last_name="Lovelace", city="London", phone="1")
    response = await client.put(
        "/users/current",
        headers=auth_headers(user),
        json={"city": " Paris ", "dob": "1815-12-10"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["city"], body["dob"], body["phone"], body["first_name"]) == (
        "Paris",
        "1815-12-10",
        "1",
        "Ada",
    )
    row = await db.fetchrow("SELECT city, dob, phone FROM users WHERE id = $1", user.pk)
    assert (row["city"], row["dob"], row["phone"]) == ("Paris", date(1815, 12, 10), "1")


async def test_update_current_with_null_clears_optional_fields(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(phone="+15550100", dob=date(1815, 12, 10))
    response = await client.put(
        "/users/current", headers=auth_headers(user), json={"phone": None, "dob": None}
    )
    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["dob"]) == ("", None)


async def test_update_current_with_an_empty_display_name_derives_it_from_the_names(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(first_name="Ada", last_name="Lovelace", display_name="Countess")
    response = await client.put(
        "/users/current",
        headers=auth_headers(user),
        json={"display_name": "", "last_name": "Byron"},
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada B."


async def test_update_current_accepts_its_own_profile_round_tripped(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(email="ada@example.com")
    profile = (await client.get("/users/current", headers=auth_headers(user))).json()
    profile["email"] = "ADA@example.com"
    profile["first_name"] = "Augusta"
    response = await client.put("/users/current", headers=auth_headers(user), json=profile)
    assert response.status_code == 200
    assert response.json() == {**profile, "email": "ada@example.com", "first_name": "Augusta"}


async def test_update_current_refuses_to_change_the_email(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user(email="ada@example.com")
    response = await client.put(
        "/users/current", headers=auth_headers(user), json={"email": "other@example.com"}
    )
    assert response.status_code == 400
    assert error_code(response) == "email_change_not_supported"
    assert await db.fetchval("SELECT email FROM users") == "ada@example.com"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"first_name": None}, id="first-name-null"),
        pytest.param({"first_name": " "}, id="first-name-blank"),
        pytest.param({"first_name": "A" * 51}, id="first-name-too-long"),
        pytest.param({"state": "s" * 101}, id="state-too-long"),
        pytest.param({"street_1": "\x00"}, id="street-nul"),
        pytest.param({"dob": (date.today() + timedelta(days=2)).isoformat()}, id="dob-future"),
    ],
)
async def test_update_current_rejects_invalid_fields_with_422(
    client: httpx.AsyncClient, make_user: MakeUser, fields: dict[str, Any]
) -> None:
    user = await make_user()
    response = await client.put("/users/current", headers=auth_headers(user), json=fields)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


async def test_update_current_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.put("/users/current", json={"city": "Paris"})
    assert response.status_code == 401


# -- public profile ---------------------------------------------------------------------------


async def test_get_user_shows_only_the_public_view(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(display_name="Ada L.", phone="+15550100", city="London")
    user_id = public_id(Entity.USER, user.seq)
    response = await client.get(f"/users/{user_id}")
    assert response.status_code == 200
    assert response.json() == {"id": user_id, "display_name": "Ada L."}


async def test_get_user_with_an_unknown_id_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await client.get(f"/users/{public_id(Entity.USER, user.seq + 1000)}")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


async def test_get_user_with_another_entitys_id_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await client.get(f"/users/{public_id(Entity.EVENT, user.seq)}")
    assert response.status_code == 404


async def test_get_user_with_a_v1_record_id_redirects_to_the_short_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    legacy_id = "rec" + "A" * 13 + "1"
    user = await make_user(airtable_id=legacy_id)
    response = await client.get(f"/users/{legacy_id}")
    assert response.status_code == 308
    assert response.headers["location"] == f"/users/{public_id(Entity.USER, user.seq)}"
