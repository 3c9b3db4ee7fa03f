"""The indexed router (podium.http.dispatch) picks the route FastAPI's own scan would pick."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Match

from podium.app import create_app
from podium.config import Settings
from podium.http.dispatch import IndexedRouter


def _sample_paths(route: BaseRoute) -> list[str]:
    """Concrete paths the route's template describes, and a few near misses around it."""
    template: str = getattr(route, "path", "")
    filled = re.sub(r"\{[^}]+\}", "x1", template) or "/"
    return [filled, filled.rstrip("/") or "/", filled + "/", filled + "/more"]


def _first_full(routes: list[BaseRoute], method: str, path: str) -> BaseRoute | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in routes:
        if route.matches(scope)[0] is Match.FULL:
            return route
    return None


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings())


def test_the_app_routes_through_the_index(app: FastAPI) -> None:
    assert type(app.router) is IndexedRouter


def test_every_path_of_every_route_gets_the_route_the_whole_scan_finds_first(app: FastAPI) -> None:
    router = app.router
    assert isinstance(router, IndexedRouter)
    paths = {path for route in router.routes for path in _sample_paths(route)}
    paths |= {"/", "/nowhere", "/events", "/x1", "/x1/x1"}
    methods = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
    checked = 0
    for path in sorted(paths):
        for method in sorted(methods):
            whole = _first_full(router.routes, method, path)
            indexed = _first_full(router.candidates(path), method, path)
            assert indexed is whole, (method, path)
            checked += whole is not None
    # Every route was reached by at least one of its own sample paths.
    assert checked >= len([r for r in router.routes if getattr(r, "methods", None)])


def test_a_route_whose_first_segment_is_a_parameter_is_tried_for_every_path() -> None:
    app = create_app(Settings())
    app.add_api_route("/{anything}/deep", lambda: {"ok": True}, methods=["GET"])
    router = app.router
    assert isinstance(router, IndexedRouter)

    assert any(getattr(r, "path", "") == "/{anything}/deep" for r in router.candidates("/events/x"))
    assert any(getattr(r, "path", "") == "/{anything}/deep" for r in router.candidates("/zzz/deep"))


async def test_a_route_added_after_the_first_request_is_served() -> None:
    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://podium.test") as client:
        assert (await client.get("/later")).status_code == 404  # the index is built here
        app.add_api_route("/later", lambda: {"later": True}, methods=["GET"])
        response = await client.get("/later")
    assert response.status_code == 200
    assert response.json() == {"later": True}
