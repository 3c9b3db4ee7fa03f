"""308 redirects for v1 record ids in the path of any route that takes an entity ID.

Done as middleware, before routing and dependencies, so a legacy link redirects the same way
whatever the route needs (a login, a body): the client repeats the request at the short-ID URL.
"""

from __future__ import annotations

from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

from podium.db import Database
from podium.errors import ErrorCode, error_response
from podium.http.spec_paths import spec_paths
from podium.ids import Entity, is_legacy_id
from podium.public_ids import public_id
from podium.queries import legacy

# A legacy redirect is cacheable: a v1 record id maps to one short ID forever.
LEGACY_REDIRECT_MAX_AGE = 86_400

# Path parameter name → the entity it names (and its kind in podium.queries.legacy).
PATH_PARAMETERS: dict[str, tuple[Entity, Literal["user", "event", "project"]]] = {
    "event_id": (Entity.EVENT, "event"),
    "project_id": (Entity.PROJECT, "project"),
    "user_id": (Entity.USER, "user"),
}


def redirect_headers(location: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"location", location.encode()),
        (b"cache-control", f"public, max-age={LEGACY_REDIRECT_MAX_AGE}".encode()),
        (b"content-length", b"0"),
    ]


async def _short_id(
    db: Database, kind: Literal["user", "event", "project"], entity: Entity, airtable_id: str
) -> str | None:
    seq = await legacy.seq_of(db, kind, airtable_id)
    return None if seq is None else public_id(entity, seq)


class LegacyRedirects:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Cheap test first: only paths holding something like a record id go any further.
        if scope["type"] != "http" or "/rec" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        found = self._legacy_parameter(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        value, entity, kind = found
        short = await _short_id(scope["app"].state.database, kind, entity, value)
        if short is None:
            await error_response(404, ErrorCode.NOT_FOUND, f"{entity} not found")(
                scope, receive, send
            )
            return
        segments = [short if part == value else part for part in scope["path"].split("/")]
        location = "/".join(segments)
        if scope.get("query_string"):
            location += "?" + scope["query_string"].decode("latin-1")
        await send(
            {"type": "http.response.start", "status": 308, "headers": redirect_headers(location)}
        )
        await send({"type": "http.response.body", "body": b""})

    def _legacy_parameter(
        self, scope: Scope
    ) -> tuple[str, Entity, Literal["user", "event", "project"]] | None:
        for path in spec_paths(scope["app"]):
            match = path.pattern.match(scope["path"])
            if match is None:
                continue
            for name, value in match.groupdict().items():
                if name in PATH_PARAMETERS and is_legacy_id(value):
                    entity, kind = PATH_PARAMETERS[name]
                    return value, entity, kind
        return None
