"""The ASGI application: `create_app()` wires settings, database, routers and error handling."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium.config import Settings
from podium.db import database
from podium.errors import error_response, install_error_handlers
from podium.legacy_redirects import LegacyRedirects
from podium.method_check import MethodCheck
from podium.public_ids import configure_codec
from podium.routers import admin, auth, events, health, legacy, projects, users

log = logging.getLogger(__name__)

API_VERSION = "2.0.0"


def operation_id(route: APIRoute) -> str:
    """Operation IDs are the handler names: stable, readable, unique across the app."""
    return route.name


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, whether or not Content-Length is honest."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "request_too_large", f"request bodies are limited to {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            raise RuntimeError("DATABASE_URL is not set (podium dev starts an embedded database)")
        for note in settings.development_defaults() if not settings.is_production else []:
            log.warning("development default: %s", note)
        configure_codec(settings.id_key_value)
        database.configure(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            connect_args={"timeout": 5},
        )
        await database.connect()
        try:
            yield
        finally:
            await database.disconnect()

    app = FastAPI(
        title="Podium",
        version=API_VERSION,
        summary="Peer judging for hackathons",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)

    for module in (health, auth, users, events, admin, projects, legacy):
        app.include_router(module.router)
    app.add_middleware(MethodCheck)
    app.add_middleware(LegacyRedirects)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
