"""Hostile input gets a declared 4xx with the JSON error shape: never a 500, never a bad row."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest

from podium.models import Event, EventAttendee
from tests.conftest import MakeUser, auth_headers


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    huge = {"name": "x", "description": "y" * 2_000_000}
    assert_error(await client.post("/events/", json=huge, headers=auth_headers(user)), 413)


async def test_a_lying_content_length_is_still_cut_off(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()

    async def stream():  # no Content-Length: the limit must count what arrives
        for _ in range(30):
            yield b"x" * 100_000

    response = await client.post(
        "/events/",
        content=stream(),
        headers={**auth_headers(user), "content-type": "application/json"},
    )
    assert_error(response, 413)


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"\xff\xfe", b'{"name": "a"', b"[]", b"null", b'"string"'],
)
async def test_malformed_json_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, body: bytes
) -> None:
    user = await make_user()
    response = await client.post(
        "/events/", content=body, headers={**auth_headers(user), "content-type": "application/json"}
    )
    assert_error(response, 422)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/events/", b"{"),
        ("/events/", b'{"name": "Hack",}'),  # a trailing comma: FastAPI said "body.16"
        ("/events/", b"not json"),
        ("/events/", b'{"name": "a"'),
        ("/events/vote", b'{"event": "e_x" "projects": []}'),
        ("/request-login", b'{"email": "ada@example.com" x}'),
        ("/users/", b"\xff\xfe"),
    ],
)
async def test_broken_json_is_one_malformed_body_error_whatever_its_shape(
    client: httpx.AsyncClient, make_user: MakeUser, path: str, body: bytes
) -> None:
    user = await make_user()
    headers = {**auth_headers(user), "content-type": "application/json"}
    response = await client.post(path, content=body, headers=headers)
    assert_error(response, 422)
    assert response.json()["error"]["code"] == "malformed_body", response.text
    assert "details" not in response.json()["error"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_a_wrong_content_type_is_a_4xx(
    client: httpx.AsyncClient, make_user: MakeUser, content_type: str
) -> None:
    user = await make_user()
    response = await client.post(
        "/events/",
        content=b'{"name": "Hack"}',
        headers={**auth_headers(user), "content-type": content_type},
    )
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


@pytest.mark.parametrize("bad", ["Hack\x00Night", "\ud800lone surrogate", "x\udfff"])
async def test_nul_bytes_and_lone_surrogates_are_refused(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, bad: str
) -> None:
    user = await make_user()
    for path, body in (
        ("/events/", {"name": bad}),
        ("/users/", {"email": "n@example.com", "first_name": bad}),
    ):
        # json.dumps escapes lone surrogates as \udXXX, which is exactly what a hostile client sends.
        response = await client.post(
            path,
            content=json.dumps(body).encode(),
            headers={**auth_headers(user), "content-type": "application/json"},
        )
        assert_error(response, 422)
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
        assert await conn.fetchval("SELECT count(*) FROM users") == 1


@pytest.mark.parametrize("hours", [2**31, -(2**31) - 1, 10**30, -1, 1.5, True, "12"])
async def test_integers_out_of_range_or_of_the_wrong_type_are_422(
    client: httpx.AsyncClient, make_user: MakeUser, hours: object
) -> None:
    owner = await make_user()
    event = await Event.objects.create(name="H", slug="h", join_code="HHHHHH", owner=owner)
    await EventAttendee.objects.create(event=event, user=owner)
    from podium.ids import Entity
    from podium.public_ids import public_id

    response = await client.post(
        "/projects/",
        json={
            "name": "P",
            "repo": "https://github.com/a/b",
            "image_url": "https://img.example/a.png",
            "demo": "https://demo.example",
            "hours_spent": hours,
            "event": public_id(Entity.EVENT, event.seq),
        },
        headers=auth_headers(owner),
    )
    assert_error(response, 422)


@pytest.mark.parametrize("limit", ["0", "201", "-1", "99999999999999999999", "abc"])
async def test_pagination_limits_out_of_range_are_422(
    client: httpx.AsyncClient, make_user: MakeUser, limit: str
) -> None:
    owner = await make_user()
    event = await Event.objects.create(name="H", slug="h", join_code="HHHHHH", owner=owner)
    from podium.ids import Entity
    from podium.public_ids import public_id

    response = await client.get(
        f"/events/admin/{public_id(Entity.EVENT, event.seq)}/votes",
        params={"limit": limit},
        headers=auth_headers(owner),
    )
    assert_error(response, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/events/" + "A" * 5000,
        "/projects/%F0%9F%92%A9",
        "/users/..%2F..%2Fetc",
        "/events/e_",
        "/projects/p_%00%00%00%00%00%00%00",
    ],
)
async def test_every_malformed_path_id_is_a_json_404(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(path), 404)


async def test_an_undeclared_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/events/attend")
    assert_error(response, 405)
    assert response.headers["allow"] == "POST"
    options = await client.options("/events/")
    assert_error(options, 405)
    assert options.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("POST", "/events/attend?join_code=%00AB", 422),
        ("POST", "/projects/join?join_code=%00", 422),
        ("GET", "/users/exists?email=a%00b", 422),
        ("GET", "/events/id/a%00b", 404),
        ("GET", "/events/e_%00", 404),
    ],
)
async def test_nul_in_a_url_never_reaches_the_database(
    client: httpx.AsyncClient, make_user: MakeUser, method: str, url: str, status: int
) -> None:
    user = await make_user()
    assert_error(await client.request(method, url, headers=auth_headers(user)), status)
