"""The app served for real to clients outside Python (a browser, the generated TypeScript SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import TEST_JWT_SECRET
from tests.live_server import running_server


@dataclass(frozen=True)
class LiveApi:
    """A running API: its base URL and the file its output (development login links) goes to."""

    url: str
    log_path: Path


@pytest.fixture
def live_api(database_url: str, db: asyncpg.Pool, tmp_path: Path) -> Iterator[LiveApi]:
    """uvicorn on the test database, tables empty at the start and truncated afterwards by `db`."""
    log_path = tmp_path / "server.log"
    env = {
        "DATABASE_URL": database_url,
        "PODIUM_ENV": "development",
        "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
    }
    with running_server(env, log_path=log_path) as url:
        yield LiveApi(url=url, log_path=log_path)
