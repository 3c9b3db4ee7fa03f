from __future__ import annotations

import asyncio

from pydantic import BaseModel

from podium.deps import Db
from podium.errors import ApiError, ErrorCode, error_responses
from podium.queries import health as database_health
from podium.routers import api_router

router = api_router(tags=["operations"])

HEALTH_TIMEOUT_SECONDS = 3.0


class Health(BaseModel):
    status: str
    database: str


# 422: a NUL in the query string is refused on every route (podium.http.middleware.RejectNulInUrl).
@router.get("/health", response_model=Health, responses=error_responses(422, 503))
async def health(db: Db) -> Health:
    """Liveness and database reachability, for the platform's health check."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
            await database_health.ping(db)
    except Exception as exc:  # any failure to reach the database means "not healthy"
        raise ApiError(
            503, ErrorCode.DATABASE_UNAVAILABLE, f"database unreachable: {type(exc).__name__}"
        ) from None
    return Health(status="ok", database="ok")
