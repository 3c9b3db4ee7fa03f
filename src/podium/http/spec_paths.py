"""The app's own OpenAPI paths, compiled once: what the request-level middleware match against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.routing import compile_path


@dataclass(frozen=True)
class SpecPath:
    template: str  # e.g. "/events/{event_id}/projects"
    pattern: re.Pattern[str]  # anchored, with a named group per parameter
    methods: frozenset[str]


def spec_paths(app: Any) -> list[SpecPath]:
    """Every path of the spec, most specific first (literal paths, then fewer parameters)."""
    cached: list[SpecPath] | None = getattr(app.state, "spec_paths", None)
    if cached is None:
        paths = app.openapi().get("paths", {})
        ordered = sorted(paths.items(), key=lambda item: item[0].count("{"))
        cached = [
            SpecPath(path, compile_path(path)[0], frozenset(m.upper() for m in operations))
            for path, operations in ordered
        ]
        app.state.spec_paths = cached
    return cached
