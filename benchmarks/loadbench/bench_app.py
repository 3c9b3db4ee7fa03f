"""The app under test: the product's `create_app()` plus two benchmark-only reference routes.

- `GET /__bench/constant`: a constant JSON body through the same app (routing, middleware,
  FastAPI's handler machinery): the framework ceiling.
- `GET /__bench/floor/leaderboard/{event_seq}`: the leaderboard as one raw asyncpg query plus
  orjson, on the worker's own small asyncpg pool: the database floor.
- `GET /__bench/floor/event/{event_seq}`: the event page the same way: its database floor.

These routes exist only in the benchmark's server process (`uvicorn loadbench.bench_app:
create_bench_app --factory`); the product never has them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request, Response

from loadbench import floor
from podium.app import create_app
from podium.config import Settings

CONSTANT_BODY = {"status": "ok", "service": "podium", "items": [1, 2, 3]}
FLOOR_POOL_SIZE = 10


def create_bench_app() -> FastAPI:
    settings = Settings()
    app = create_app(settings)
    product_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with product_lifespan(app):
            assert settings.database_url_sync is not None
            pool = await asyncpg.create_pool(
                settings.database_url_sync, min_size=1, max_size=FLOOR_POOL_SIZE
            )
            app.state.floor_pool = pool
            try:
                yield
            finally:
                await pool.close()

    app.router.lifespan_context = lifespan

    async def constant() -> dict[str, object]:
        return CONSTANT_BODY

    async def floor_leaderboard(event_seq: int, request: Request) -> Response:
        body = await floor.leaderboard(request.app.state.floor_pool, event_seq)
        return Response(body, media_type="application/json")

    async def floor_event(event_seq: int, request: Request) -> Response:
        body = await floor.event(request.app.state.floor_pool, event_seq)
        if body is None:
            return Response(status_code=404)
        return Response(body, media_type="application/json")

    app.add_api_route("/__bench/constant", constant, methods=["GET"], include_in_schema=False)
    app.add_api_route(
        "/__bench/floor/event/{event_seq}", floor_event, methods=["GET"], include_in_schema=False
    )
    app.add_api_route(
        "/__bench/floor/leaderboard/{event_seq}",
        floor_leaderboard,
        methods=["GET"],
        include_in_schema=False,
    )
    return app
