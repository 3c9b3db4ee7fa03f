from __future__ import annotations

import httpx

from tests.live_server import running_server


async def test_health_is_ok_with_the_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_is_503_with_the_database_down() -> None:
    # A real server whose database is a closed loopback port: the process is up, the database not.
    env = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:9/podium", "PODIUM_ENV": "development"}
    with running_server(env, expect_healthy=False) as base:
        response = httpx.get(f"{base}/health", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "database_unavailable"
