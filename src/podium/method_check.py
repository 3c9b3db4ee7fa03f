"""405 with the full `Allow` set for a method a path does not declare.

Starlette answers per route, so a path served by several routes lists only one route's methods,
and a literal path such as `/events/attend` (POST) would fall through to `/events/{event_id}`
(PUT) for a PUT. The spec's paths are the truth: a literal path wins over a template.
"""

from __future__ import annotations

import re

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from podium.errors import error_response

_ALWAYS_ALLOWED = {"HEAD"}


class MethodCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._paths: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    def _compiled(self, scope: Scope) -> list[tuple[re.Pattern[str], frozenset[str]]]:
        if self._paths is None:
            spec_paths = scope["app"].openapi().get("paths", {})
            # Literal paths first, then templates with fewer parameters: the most specific wins.
            ordered = sorted(spec_paths.items(), key=lambda item: item[0].count("{"))
            self._paths = [
                (compile_path(path)[0], frozenset(method.upper() for method in operations))
                for path, operations in ordered
            ]
        return self._paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for pattern, methods in self._compiled(scope):
                if pattern.fullmatch(scope["path"]):
                    method = scope["method"]
                    if method not in methods and not (
                        method in _ALWAYS_ALLOWED and "GET" in methods
                    ):
                        allow = ", ".join(sorted(methods))
                        response = error_response(
                            405,
                            "method_not_allowed",
                            f"{method} is not allowed here; allowed: {allow}",
                            headers={"Allow": allow},
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)
