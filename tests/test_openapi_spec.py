from __future__ import annotations

from fastapi import APIRouter

from podium.app import create_app
from podium.config import Settings
from podium.openapi import SPEC_PATH, build_spec, drift, render


def test_committed_spec_matches_the_app() -> None:
    lines = drift(SPEC_PATH.read_text(), render(build_spec()))
    assert not lines, "openapi/openapi.json is stale; run scripts/export_openapi.py\n" + "\n".join(
        lines[:80]
    )


def test_drift_check_notices_a_changed_route() -> None:
    # The test of the test: an app with one more route must not match the committed spec.
    app = create_app(Settings())
    extra = APIRouter()

    @extra.get("/events/{event_id}/surprise")
    async def surprise(event_id: str) -> dict[str, str]:
        """A route nobody exported."""
        return {}

    app.include_router(extra)
    lines = drift(SPEC_PATH.read_text(), render(build_spec(app)))
    assert any("/events/{event_id}/surprise" in line for line in lines)


def test_every_operation_declares_the_503_with_retry_after() -> None:
    # Every route reads the database, and any request can run past its deadline.
    spec = build_spec()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            unavailable = operation["responses"].get("503")
            assert unavailable is not None, f"{method.upper()} {path} does not declare 503"
            assert "Retry-After" in unavailable["headers"], f"{method.upper()} {path}"
