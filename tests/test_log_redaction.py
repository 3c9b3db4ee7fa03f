"""No login link's token in the access log: a real server, its real access log."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx
import pytest

from podium.config import Settings
from podium.http.log_redaction import redact_query
from tests.conftest import TEST_JWT_SECRET
from tests.live_server import running_server


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/verify?token=eyJ.a.b", "/verify?token=[redacted]"),
        ("/verify?redirect=/x&token=eyJ&x=1", "/verify?redirect=/x&token=[redacted]&x=1"),
        ("/verify?token=", "/verify?token=[redacted]"),
        ("/events/attend?join_code=ABC", "/events/attend?join_code=ABC"),
        ("/verify", "/verify"),
        ("/verify?tokens=1&token", "/verify?tokens=1&token"),
    ],
)
def test_redact_query(path: str, logged: str) -> None:
    assert redact_query(path) == logged


async def test_the_access_log_shows_verify_without_its_token(
    db: asyncpg.Pool, settings: Settings, tmp_path: Path
) -> None:
    log_path = tmp_path / "server.log"
    secret_token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
    env = {
        "DATABASE_URL": settings.database_url or "",
        "PODIUM_DATABASE_PGBOUNCER": settings.database_pgbouncer,
        "PODIUM_ENV": "development",
        "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
    }
    with running_server(env, log_path=log_path, log_level="info") as base:
        async with httpx.AsyncClient(base_url=base) as http:
            response = await http.get("/verify", params={"token": secret_token})
            assert response.status_code == 401
    logged = log_path.read_text()
    assert "GET /verify?token=[redacted] HTTP/1.1" in logged
    assert secret_token not in logged
    assert "c2VjcmV0LXRva2Vu" not in logged
