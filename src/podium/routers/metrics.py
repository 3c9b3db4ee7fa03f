"""`/metrics`: the Prometheus scrape, kept out of the spec (it is for the operator's scraper)."""

from __future__ import annotations

import hmac

from fastapi import Request, Response

from podium import metrics
from podium.config import MetricsAccess, Settings
from podium.errors import ApiError, ErrorCode, not_found
from podium.routers import api_router

router = api_router()


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    """Every metric of the server (every worker's), in Prometheus' text format."""
    settings: Settings = request.app.state.settings
    _check_access(settings, request.headers.get("authorization"))
    # The pool's figures are read now; there is no database outside the app's lifespan.
    database = getattr(request.app.state, "database", None)
    return Response(metrics.scrape(database), media_type=metrics.CONTENT_TYPE)


def _check_access(settings: Settings, authorization: str | None) -> None:
    access = settings.metrics_access
    if access is MetricsAccess.OFF:
        # As if there were no such route: an off switch tells a prober nothing.
        raise not_found("/metrics")
    if access is MetricsAccess.TOKEN:
        assert settings.metrics_token is not None  # Settings refuses `token` without one
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        if authorization is None or not hmac.compare_digest(
            authorization.encode(), expected.encode()
        ):
            raise ApiError(
                401,
                ErrorCode.UNAUTHORIZED,
                "/metrics needs Authorization: Bearer <PODIUM_METRICS_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
