"""405 with the full `Allow` set for a method a path does not declare.

Starlette answers per route, so a path served by several routes lists only one route's methods,
and a literal path such as `/events/attend` (POST) would fall through to `/events/{event_id}`
(PUT) for a PUT. The spec's paths are the truth: a literal path wins over a template.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from podium.errors import ErrorCode, error_response
from podium.http.spec_paths import spec_paths

_ALWAYS_ALLOWED = {"HEAD"}


class MethodCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for path in spec_paths(scope["app"]):
                if path.pattern.match(scope["path"]):
                    method = scope["method"]
                    if method not in path.methods and not (
                        method in _ALWAYS_ALLOWED and "GET" in path.methods
                    ):
                        allow = ", ".join(sorted(path.methods))
                        response = error_response(
                            405,
                            ErrorCode.METHOD_NOT_ALLOWED,
                            f"{method} is not allowed here; allowed: {allow}",
                            headers={"Allow": allow},
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
