"""The app's router, with each request tried only against the routes that can match it.

FastAPI's router tries its routes in order until one matches, and each try costs about 11,000
instructions (`APIRoute.matches`: scope look-ups, then the path's regex): with ~50 routes the
scan was 0.55 M instructions for a route near the end, more than the rest of a small request
(benchmarks/instructions.py `--constant-first`; docs/performance.md). A route whose path starts
with a literal segment (`/events/…`) can only match a path with that first segment, so the
routes are indexed by it once, and a request tries those of its own segment (plus any route
whose first segment is a parameter) in their original order. The first full match among them is
the one the whole scan would have found first, so which route answers does not change.

Everything else (no full match: a 405's partial match, a trailing-slash redirect, a 404) goes
to FastAPI's own scan, unchanged. The index is rebuilt when the number of routes changes (a route
added after start-up, as the benchmarks do); reorder routes only before the first request.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRouter, _apply_router_form_limits, _update_scope
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Receive, Scope, Send

# The index key of a route whose first segment is not literal: it is tried for every path.
_ANY = None


def first_segment(path: str) -> str:
    """`events` for `/events/vote`, `` for `/`."""
    return path[1:].split("/", 1)[0]


def _route_segment(route: BaseRoute) -> str | None:
    path: str | None = getattr(route, "path", None)
    if path is None or not path.startswith("/"):
        return _ANY
    segment = first_segment(path)
    return _ANY if "{" in segment else segment


class IndexedRouter(APIRouter):
    """FastAPI's router with a first-segment index in front of its route scan."""

    _index: dict[str | None, list[BaseRoute]]
    _indexed: int = -1

    def candidates(self, path: str) -> list[BaseRoute]:
        """The routes that may match `path`, in the router's order."""
        if self._indexed != len(self.routes):
            self._build_index()
        index = self._index
        found = index.get(first_segment(path))
        return index[_ANY] if found is None else found

    def _build_index(self) -> None:
        segments = [_route_segment(route) for route in self.routes]
        index: dict[str | None, list[BaseRoute]] = {
            segment: [
                route
                for route, of in zip(self.routes, segments, strict=True)
                if of in (segment, _ANY)
            ]
            for segment in {*segments, _ANY}
        }
        self._index, self._indexed = index, len(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    # What FastAPI's own loop does for a full match (fastapi.routing.APIRouter.app).
                    _apply_router_form_limits(scope, self.form_limits)
                    scope.setdefault("router", self)
                    _update_scope(scope, child_scope)
                    _route_selected(
                        scope=scope,
                        path=getattr(route, "path_format", None),
                        mount=isinstance(route, Mount),
                    )
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def index_routes(app: FastAPI) -> None:
    """Give `app` the indexed router (the same object, its class swapped: FastAPI builds its
    router itself, with the app's settings, and offers no way to choose its class)."""
    router = app.router
    if type(router) is not APIRouter:
        raise TypeError(f"expected FastAPI's own APIRouter, not {type(router).__name__}")
    # Starlette's Router calls the bound method it kept at construction (`middleware_stack`),
    # not `self.app`; with router-level middleware or a body limit it is wrapped, and the swap
    # below would drop the wrappers: this app has none.
    if getattr(router.middleware_stack, "__func__", None) is not APIRouter.app:
        raise TypeError("the router has middleware of its own; index_routes cannot keep it")
    router.__class__ = IndexedRouter
    router.middleware_stack = router.app
