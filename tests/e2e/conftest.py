"""The app served for real to clients outside Python (a browser, the generated TypeScript SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from podium.ids import DEVELOPMENT_ID_KEY
from tests.conftest import TEST_JWT_SECRET
from tests.live_server import running_server


@dataclass(frozen=True)
class LiveApi:
    """A running API: its base URL and the file its output (development login links) goes to."""

    url: str
    log_path: Path


@contextmanager
def serve_api(database_url: str, log_path: Path, **env: str) -> Iterator[LiveApi]:
    """uvicorn in development mode on `database_url`, with the tests' secret and ID key (so IDs
    and tokens a test computes are the server's) and `env` on top."""
    base = {
        "DATABASE_URL": database_url,
        "PODIUM_ENV": "development",
        "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
        "PODIUM_ID_KEY": DEVELOPMENT_ID_KEY,
    }
    with running_server({**base, **env}, log_path=log_path) as url:
        yield LiveApi(url=url, log_path=log_path)


@pytest.fixture
def live_api(database_url: str, db: asyncpg.Pool, tmp_path: Path) -> Iterator[LiveApi]:
    """uvicorn on the test database, tables empty at the start and truncated afterwards by `db`."""
    with serve_api(database_url, tmp_path / "server.log") as api:
        yield api
