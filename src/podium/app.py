"""The ASGI application: `create_app()` wires settings, database, routers and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.routing import BaseRoute

from podium import metrics
from podium.config import LinkCheckMode, Settings
from podium.db import Database, Timeouts
from podium.errors import install_error_handlers
from podium.http import log_redaction, observability
from podium.http.deadline import RequestDeadline
from podium.http.dispatch import index_routes
from podium.http.legacy_redirects import LegacyRedirects
from podium.http.method_check import MethodCheck
from podium.http.middleware import BodySizeLimit, BrowserEdge, RejectNulInUrl
from podium.public_ids import configure_codec
from podium.read_replica import ReadReplica
from podium.routers import (
    admin,
    auth,
    events,
    exports,
    health,
    legacy,
    operation_id,
    projects,
    superadmin,
    trash,
    users,
)
from podium.routers import metrics as metrics_route
from podium.services.rate_limits import purge_periodically

log = logging.getLogger(__name__)

API_VERSION = "2.0.0"

# The spec's `servers`: relative first, so Swagger UI and generated clients call whichever host
# served the spec; then the development server, for a client generated from the committed file.
SPEC_SERVERS = [
    {"url": "/", "description": "The server this spec was read from"},
    {"url": "http://127.0.0.1:8000", "description": "podium dev"},
]
SPEC_LICENSE = {"name": "Proprietary: Podium v2, all rights reserved by its owners"}

# Responses smaller than this go out as they are: compressing them saves a packet at most.
COMPRESS_MINIMUM_BYTES = 1000
# The encoders' levels: the least CPU that brings the project lists under 20 % of their raw
# size (docs/performance.md, "Issue #12"). Chrome, Edge and Firefox get zstd, where 3 compresses
# as well as the library's 4 in less time; Safari gets brotli, under 20 % from quality 5;
# gzip-only clients gzip, under 20 % from level 5.
ZSTD_LEVEL = 3
BROTLI_QUALITY = 5
GZIP_LEVEL = 5


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, models, routes, schemas) out of the cyclic GC.

    A worker starts with ~130,000 objects the collector tracks, and a full collection walks all
    of them: ~70 ms during which the worker answers nothing. List routes allocate enough to
    trigger one every few seconds under load; in the load benchmark every route showed a p99
    near 100 ms while its p50 stayed at a few ms. Frozen objects are never collected (they
    live as long as the process anyway); garbage is collected first so none is frozen.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            raise RuntimeError("DATABASE_URL is not set (podium dev starts an embedded database)")
        for note in settings.development_defaults() if not settings.is_production else []:
            log.warning("development default: %s", note)
        configure_codec(settings.id_key_value)
        log_redaction.install()
        database = _database(settings, settings.database_url)
        await database.open()
        app.state.database = database
        purge = (
            asyncio.create_task(purge_periodically(database, settings.rate_limit_purge_seconds))
            if settings.rate_limit_purge_seconds
            else None
        )
        replica = None
        if settings.database_read_url is not None:
            replica = ReadReplica(
                _database(settings, settings.database_read_url),
                database,
                max_lag=settings.database_read_max_lag,
            )
            await replica.open()
        app.state.read_replica = replica
        _freeze_startup_objects()
        try:
            # The link checks stop before the pool they use closes.
            async with metrics.pool_sampler(database), _inline_link_checks(settings, database):
                yield
        finally:
            if replica is not None:
                await replica.close()
            if purge is not None:
                purge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await purge
            await database.close()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the installed package,
    # not a CDN, so they work with no internet (a hackathon venue, a laptop on a train).
    app = FastAPIOffline(
        title="Podium",
        version=API_VERSION,
        summary="Peer judging for hackathons",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        servers=SPEC_SERVERS,
        license_info=SPEC_LICENSE,
    )
    _declare_public_operations(app)
    # Each request tries only the routes of its first path segment (podium.http.dispatch).
    index_routes(app)
    app.state.settings = settings
    # Set by the lifespan when PODIUM_DATABASE_READ_URL is; podium.deps.read_database_of reads it.
    app.state.read_replica = None
    install_error_handlers(app)

    # Each route on the app's own router (see routers.api_router), the docs routes after them.
    for module in (
        health,
        auth,
        users,
        trash,
        events,
        admin,
        exports,
        projects,
        superadmin,
        legacy,
    ):
        app.router.routes.extend(module.router.routes)
    _docs_routes_last(app)
    # Last: the router tries each route in turn, and no API request should try this one first.
    app.router.routes.extend(metrics_route.router.routes)
    # The last added runs first: CORS answers a preflight before anything else looks at it.
    app.add_middleware(MethodCheck)
    app.add_middleware(LegacyRedirects)
    app.add_middleware(RequestDeadline, seconds=settings.request_timeout)
    app.add_middleware(RejectNulInUrl)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # CORS, then one compression layer, outside the app: a response that already has a
    # Content-Encoding passes untouched. zstd, then brotli, then gzip, by what the client accepts.
    app.add_middleware(
        BrowserEdge,
        origins=settings.allowed_origins,
        minimum_size=COMPRESS_MINIMUM_BYTES,
        zstd_level=ZSTD_LEVEL,
        brotli_quality=BROTLI_QUALITY,
        gzip_level=GZIP_LEVEL,
    )
    # Outside every layer above and Starlette's own 500 handler: the request id, the metrics
    # and the request line see the response the client got.
    observability.install(app, log_requests=settings.access_log)
    return app


# How long shutdown waits for the link checks in flight (their leases free them otherwise).
LINK_CHECKS_SHUTDOWN_SECONDS = 5.0


@asynccontextmanager
async def _inline_link_checks(settings: Settings, database: Database) -> AsyncIterator[None]:
    """With PODIUM_LINK_CHECKS=inline, this process runs the link-check queue too."""
    if settings.link_checks is not LinkCheckMode.INLINE:
        yield
        return
    from podium.link_checks import runner

    stop = asyncio.Event()
    config = runner.RunnerConfig.from_settings(settings)
    task = asyncio.create_task(runner.run_forever(database, config, stop))
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, LINK_CHECKS_SHUTDOWN_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _database(settings: Settings, url: str) -> Database:
    """A pool on `url` (the primary's or the replica's), sized and bounded by the settings."""
    return Database(
        url,
        size=settings.database_pool_size,
        pgbouncer=settings.database_pgbouncer,
        timeouts=Timeouts(
            connect=settings.database_connect_timeout,
            acquire=settings.database_acquire_timeout,
            statement=settings.database_statement_timeout,
            idle=settings.database_idle_timeout,
            commit=settings.request_timeout,
        ),
    )


def _docs_routes_last(app: FastAPI) -> None:
    """The spec, docs and their static files after the API's routes: FastAPIOffline adds them
    first, so every API request tried (and missed) five of them before reaching its own."""
    api = [route for route in app.router.routes if not _is_docs_route(route)]
    docs = [route for route in app.router.routes if _is_docs_route(route)]
    app.router.routes[:] = api + docs


def _is_docs_route(route: BaseRoute) -> bool:
    path = getattr(route, "path", "")
    return path == "/openapi.json" or path.startswith(("/docs", "/redoc", "/static-offline-docs"))


def _declare_public_operations(app: FastAPI) -> None:
    """`security: []` on every operation that needs no token, so generators and linters (and
    readers) see "public" stated, not a security section left out."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        spec = build()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                operation.setdefault("security", [])
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
