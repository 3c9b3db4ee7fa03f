"""BackgroundServer: an ASGI app on an ephemeral loopback port, started and stopped cleanly."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from podium_devtools.background_server import BackgroundServer


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/hello", hello)])


def test_serves_the_app_on_the_bound_ephemeral_port() -> None:
    with BackgroundServer(APP, name="the test server") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert not server.url.endswith(":0")
        assert httpx.get(server.url + "/hello").text == "hello"


def test_stops_and_can_start_again() -> None:
    server = BackgroundServer(APP, name="the test server")
    server.start()
    server.stop()
    server.stop()  # a second stop is a no-op
    with pytest.raises(RuntimeError, match="the test server is not running"):
        _ = server.url
    with server:
        assert httpx.get(server.url + "/hello").status_code == 200


def test_refuses_to_start_twice() -> None:
    with (
        BackgroundServer(APP, name="the test server") as server,
        pytest.raises(RuntimeError, match="already running"),
    ):
        server.start()


def test_a_taken_port_is_an_error_naming_the_server() -> None:
    with BackgroundServer(APP, name="the first server") as first:
        port = int(first.url.rsplit(":", 1)[1])
        second = BackgroundServer(APP, name="the second server", port=port)
        with pytest.raises(RuntimeError, match=f"the second server could not start on .*:{port}"):
            second.start()
