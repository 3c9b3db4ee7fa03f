"""One log line per request, as JSON; X-Request-ID in and out; no secret of the query string in it.

The line as `podium serve` writes it, from a real server: tests/test_observability_serve.py.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from podium import logs
from podium.app import create_app
from podium.config import Settings
from podium.db import Database, Timeouts
from podium.http.observability import REDACTED, loggable_target
from tests.api.conftest import eid, make_event
from tests.conftest import MakeUser, auth_headers

NEW_ID = re.compile(r"[0-9a-f]{32}")


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The request lines logged so far, rendered by the formatter `podium serve` uses."""
    render = logs.formatter("json")
    return [
        json.loads(render.format(record))
        for record in caplog.records
        if record.name == logs.ACCESS_LOGGER
    ]


@pytest.fixture
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=logs.ACCESS_LOGGER)
    return caplog


async def test_each_request_is_one_json_line_with_its_id_route_status_and_duration(
    client: httpx.AsyncClient, make_user: MakeUser, access: pytest.LogCaptureFixture
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    response = await client.get(f"/events/{eid(event)}", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200

    [line] = request_lines(access)
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["logger"] == "podium.access"
    assert line["request_id"] == "abc-123" == response.headers["x-request-id"]
    assert line["method"] == "GET"
    assert line["route"] == "/events/{event_id}"
    assert line["path"] == f"/events/{eid(event)}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["client"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])


@pytest.mark.parametrize(
    "sent",
    [
        "x" * 129,  # too long
        "has space",
        'quote"d',
        "new\nline",
        "",
        "ünïcode",
    ],
)
async def test_an_unusable_request_id_is_replaced_by_a_new_one(
    client: httpx.AsyncClient, access: pytest.LogCaptureFixture, sent: str
) -> None:
    response = await client.get("/health", headers=[(b"x-request-id", sent.encode())])
    assert response.status_code == 200
    assert NEW_ID.fullmatch(response.headers["x-request-id"])
    [line] = request_lines(access)
    assert line["request_id"] == response.headers["x-request-id"]


async def test_each_request_without_an_id_gets_its_own(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/health")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(NEW_ID.fullmatch(i) for i in ids)


async def test_a_trace_id_of_a_proxy_is_kept(client: httpx.AsyncClient) -> None:
    trace = "Root=1-67891233-abcdef012345678912345678"
    response = await client.get("/health", headers={"X-Request-ID": trace})
    assert response.headers["x-request-id"] == trace


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/path", 404),
        ("GET", "/health?x=%00", 422),  # refused by middleware, before routing
        ("PATCH", "/events/attend", 405),
        ("GET", "/users/current", 401),
        ("GET", "/users/recAAAAAAAAAAAAAA", 404),  # the legacy redirect's lookup, before routing
    ],
)
async def test_error_responses_carry_the_request_id(
    client: httpx.AsyncClient, access: pytest.LogCaptureFixture, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "err-1"})
    assert response.status_code == status
    assert response.headers["x-request-id"] == "err-1"
    [line] = request_lines(access)
    assert (line["request_id"], line["status"]) == ("err-1", status)


async def test_a_cors_preflight_refused_is_logged_with_the_outer_layers_status(
    client: httpx.AsyncClient, access: pytest.LogCaptureFixture
) -> None:
    response = await client.options(
        "/events/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert NEW_ID.fullmatch(response.headers["x-request-id"])
    [line] = request_lines(access)
    assert line["status"] == 400


async def test_an_unhandled_error_is_a_500_with_the_request_id_and_a_line_of_its_own(
    settings: Settings,
) -> None:
    # The app's own 500 handler is Starlette's outermost layer; the request id goes outside it.
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    # Rendered as a handler of `podium serve` renders it: when the line is logged.
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/boom", headers={"X-Request-ID": "bug-1"})
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] == "bug-1"
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    [request] = [line for line in lines if line["logger"] == logs.ACCESS_LOGGER]
    assert (request["route"], request["status"], request["request_id"]) == ("/boom", 500, "bug-1")
    # The traceback is one JSON line, naming the request it belongs to.
    [error] = [line for line in lines if line["event"] == "unhandled error"]
    assert error["request_id"] == "bug-1"
    assert error["level"] == "error"
    assert "RuntimeError: a bug" in error["exception"]


async def test_the_login_token_and_join_codes_are_redacted_from_the_line(
    client: httpx.AsyncClient, make_user: MakeUser, access: pytest.LogCaptureFixture
) -> None:
    user = await make_user()
    secret = "eyJhbGciOiJIUzI1NiJ9.secret-part.signature"
    await client.get("/verify", params={"token": secret})
    await client.post("/events/attend", params={"join_code": "SECRET1"}, headers=auth_headers(user))
    verify, attend = request_lines(access)
    assert verify["path"] == f"/verify?token={REDACTED}"
    assert verify["route"] == "/verify"
    assert attend["path"] == f"/events/attend?join_code={REDACTED}"
    rendered = "".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in access.records)
    assert secret not in rendered and "SECRET1" not in rendered
    assert auth_headers(user)["Authorization"].split()[1] not in rendered


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        (b"", "/p"),
        (b"leaderboard=true&limit=5", "/p?leaderboard=true&limit=5"),
        (b"token=abc", f"/p?token={REDACTED}"),
        (b"TOKEN=abc&x=1", f"/p?TOKEN={REDACTED}&x=1"),
        (b"%74oken=abc", f"/p?%74oken={REDACTED}"),  # the name percent-encoded
        (
            b"access_token=a&api_key=b&code=c&referral=r",
            f"/p?access_token={REDACTED}&api_key={REDACTED}&code={REDACTED}&referral=r",
        ),
        (b"token", "/p?token"),  # no value to hide
        (b"a=1&token=x&token=y", f"/p?a=1&token={REDACTED}&token={REDACTED}"),
    ],
)
def test_secret_looking_query_values_are_redacted(query: bytes, logged: str) -> None:
    assert loggable_target({"path": "/p", "query_string": query}) == logged


@pytest.fixture
async def refused(app: FastAPI) -> AsyncIterator[None]:
    """The app's database swapped for one whose server refuses connections."""
    down = Database(
        "postgresql://postgres@127.0.0.1:9/podium", size=2, timeouts=Timeouts(connect=1)
    )
    await down.open()
    previous, app.state.database = app.state.database, down
    try:
        yield
    finally:
        app.state.database = previous
        await down.close()


@pytest.mark.usefixtures("refused")
async def test_a_503_for_the_database_carries_the_request_id(
    client: httpx.AsyncClient, access: pytest.LogCaptureFixture
) -> None:
    for path in ("/users/u_NkM7Ied", "/users/recAAAAAAAAAAAAAA"):  # a route; the redirect layer
        response = await client.get(path, headers={"X-Request-ID": "down-1"})
        assert response.status_code == 503
        assert response.headers["x-request-id"] == "down-1"
    assert [(line["status"], line["route"]) for line in request_lines(access)] == [
        (503, "/users/{user_id}"),
        (503, "/users/{user_id}"),
    ]


async def test_no_request_line_when_the_access_log_is_off(
    settings: Settings, access: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings.model_copy(update={"access_log": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/no/such/path")
    # The id is still sent back: only the line is off.
    assert response.status_code == 404 and NEW_ID.fullmatch(response.headers["x-request-id"])
    assert request_lines(access) == []


def test_the_text_format_writes_the_same_fields_for_people() -> None:
    record = logging.LogRecord(logs.ACCESS_LOGGER, logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(method="GET", route="/health", status=200, request_id="r-1")
    line = logs.formatter("text").format(record)
    assert "request" in line and "route=/health" in line and "request_id=r-1" in line
    assert "status=200" in line and not line.startswith("{")


def test_the_request_lines_shortcut_renders_what_structlogs_chain_renders() -> None:
    record = logging.LogRecord(logs.ACCESS_LOGGER, logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(
        request_id="r-1",
        method="GET",
        route="/events/{event_id}",
        path="/events/e_x?token=[redacted]",
        status=200,
        duration_ms=1.5,
        client="10.0.0.1",
    )
    fast = logs.formatter("json")
    shortcut = json.loads(fast.format(record))
    general = json.loads(structlog.stdlib.ProcessorFormatter.format(fast, record))
    assert shortcut.keys() == general.keys()
    assert {k: v for k, v in shortcut.items() if k != "timestamp"} == {
        k: v for k, v in general.items() if k != "timestamp"
    }
    for line in (shortcut, general):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", line["timestamp"])
