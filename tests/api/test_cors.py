"""CORS: a browser app on another origin can call every operation, follow a legacy redirect and
read the headers it needs; other origins are refused with the JSON error body."""

from __future__ import annotations

import json

import httpx
import pytest

from podium.openapi import SPEC_PATH
from tests.api.conftest import assert_error, attend, make_event, make_project
from tests.conftest import MakeUser, auth_headers

FRONTEND = "http://localhost:5173"  # the development default (PODIUM_FRONTEND_URL)
SPEC_OPERATIONS = [
    (path, method.upper())
    for path, operations in json.loads(SPEC_PATH.read_text())["paths"].items()
    for method in operations
]


def preflight(method: str, origin: str = FRONTEND) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
    }


@pytest.mark.parametrize(("path", "method"), SPEC_OPERATIONS, ids=lambda value: str(value))
async def test_every_operation_of_the_spec_passes_its_preflight(
    client: httpx.AsyncClient, path: str, method: str
) -> None:
    # A real-looking path: the preflight is answered before routing, IDs or the 405 check.
    url = path.replace("{", "").replace("}", "")
    response = await client.options(url, headers=preflight(method))

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert method in response.headers["access-control-allow-methods"].split(", ")
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "if-none-match"):
        assert header in allowed
    assert int(response.headers["access-control-max-age"]) > 0
    # Bearer tokens, never cookies: credentials stay off.
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_a_json_400(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/events/vote", headers=preflight("POST", "https://evil.example")
    )
    assert_error(response, 400, "cors_refused")
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_for_a_method_no_route_has_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.options("/events/vote", headers=preflight("PATCH"))
    assert_error(response, 400, "cors_refused")
    assert "method" in response.json()["error"]["message"]


async def test_a_plain_options_request_is_still_a_405(client: httpx.AsyncClient) -> None:
    response = await client.options("/events/vote", headers={"Origin": FRONTEND})
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["access-control-allow-origin"] == FRONTEND


async def test_responses_name_the_origin_and_expose_what_a_client_reads(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await make_event(await make_user())
    response = await client.get(f"/events/{event_id(event.seq)}", headers={"Origin": FRONTEND})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == FRONTEND
    exposed = {
        name.strip().lower()
        for name in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "retry-after", "location"} <= exposed
    assert "origin" in response.headers["vary"].lower()


async def test_errors_carry_the_cors_headers_so_a_browser_can_read_them(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/users/current", headers={"Origin": FRONTEND})
    assert_error(response, 401, "unauthorized")
    assert response.headers["access-control-allow-origin"] == FRONTEND


async def test_an_unlisted_origin_gets_no_allow_origin(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_a_legacy_redirect_carries_the_cors_headers(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(airtable_id="recAAAAAAAAAAAAA1")
    headers = {"Origin": FRONTEND, **auth_headers(user)}

    # The preflight of the legacy URL, then the request itself: 308 readable by the page.
    assert (
        await client.options("/users/recAAAAAAAAAAAAA1", headers=preflight("GET"))
    ).status_code == 200
    response = await client.get("/users/recAAAAAAAAAAAAA1", headers=headers)

    assert response.status_code == 308
    assert response.headers["access-control-allow-origin"] == FRONTEND
    assert response.headers["location"] == f"/users/{user_id(user.seq)}"


def event_id(seq: int) -> str:
    from podium.ids import Entity
    from podium.public_ids import public_id

    return public_id(Entity.EVENT, seq)


def user_id(seq: int) -> str:
    from podium.ids import Entity
    from podium.public_ids import public_id

    return public_id(Entity.USER, seq)


async def test_a_cross_origin_list_is_compressed_and_carries_the_cors_headers(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    await attend(event, owner)
    for n in range(40):
        await make_project(owner, event, f"Project {n}", description="a hackathon project " * 5)
    headers = {"Origin": FRONTEND, "Accept-Encoding": "gzip"}
    response = await client.get(f"/events/{event_id(event.seq)}/projects", headers=headers)

    assert response.status_code == 200 and len(response.json()) == 40
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["access-control-allow-origin"] == FRONTEND
    vary = {name.strip().lower() for name in response.headers["vary"].split(",")}
    assert {"origin", "accept-encoding"} <= vary
