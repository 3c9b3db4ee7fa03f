"""Real Podium servers (subprocesses on 127.0.0.1) on fresh databases, for the cutover tests."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from tests.conftest import PgServer

from podium.backfill.airtable import AirtableSource, RetryPolicy, SourceConfig
from podium.backfill.pipeline import Backfill
from podium.cutover.writeback import Options, Result, WriteBack
from podium_devtools.fake_airtable import FakeAirtable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TABLE_NAMES = ("users", "events", "projects", "votes", "referrals")
SERVER_START_SECONDS = 60.0
_RUNNING_ON = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class ServerProcess:
    url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a development server on `database_url`, mail printed to the log."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PODIUM_", "AIRTABLE_")) and name != "DATABASE_URL"
    }
    env.update(DATABASE_URL=database_url, PODIUM_ENV="development", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_server(arguments: Sequence[str], env: Mapping[str, str], log_path: Path) -> ServerProcess:
    """Run `podium <arguments> --host 127.0.0.1 --port 0` and wait until it answers /health.

    Blocking: from async code, call it through asyncio.to_thread.
    """
    command = [sys.executable, "-m", "podium.cli", *arguments, "--host", "127.0.0.1", "--port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=dict(env), cwd=PROJECT_ROOT
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    server: ServerProcess | None = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {process.returncode}:\n{_tail(log_path)}"
                )
            match = _RUNNING_ON.search(log_path.read_text(errors="replace"))
            if match and server is None:
                server = ServerProcess(match.group(1), log_path, process)
            if server is not None and _healthy(server.url):
                return server
            time.sleep(0.1)
        raise RuntimeError(
            f"the server did not start in {SERVER_START_SECONDS} s:\n{_tail(log_path)}"
        )
    except BaseException:
        stop_server(process)
        raise


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(log_path: Path, lines: int = 40) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def run_script(
    *arguments: str | Path, env: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """Run a Python script of this repository; its exit code and its output (stdout + stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *(str(argument) for argument in arguments),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=PROJECT_ROOT,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.fixture(scope="module")
async def dev_server(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerProcess]:
    """`podium dev` on a fresh database (it migrates and seeds the demo data itself)."""
    name = f"podium_dev_{os.getpid()}_{secrets.token_hex(3)}"
    url = await pg_server.create_database(name)
    log_path = tmp_path_factory.mktemp("podium-dev") / "server.log"
    server = await asyncio.to_thread(start_server, ["dev"], server_env(url), log_path)
    try:
        yield server
    finally:
        await asyncio.to_thread(stop_server, server.process)
        await pg_server.drop_database(name)


@pytest.fixture
async def fresh_database(pg_server: PgServer, migrated_template: str) -> AsyncIterator[str]:
    """A migrated, empty database of this test's own (a URL), dropped afterwards."""
    name = f"podium_cutover_{secrets.token_hex(4)}"
    yield await pg_server.create_database(name, template=migrated_template)
    await pg_server.drop_database(name)


def source_for(fake: FakeAirtable, requests_per_second: float = 1000.0) -> AirtableSource:
    """The backfill's client pointed at the fake, with test-sized waits after faults."""
    return AirtableSource(
        SourceConfig(
            token=fake.token,
            base_id=fake.base_id,
            api_url=fake.url,
            tables={name: name for name in TABLE_NAMES},
            requests_per_second=requests_per_second,
            policy=RetryPolicy(rate_limit_wait=0.05, backoff=0.01, max_backoff=0.05),
        )
    )


async def backfill(fake: FakeAirtable, database_url: str) -> None:
    source = source_for(fake)
    try:
        await Backfill(source, database_url, console=Console(quiet=True)).run()
    finally:
        source.close()


async def write_back(
    fake: FakeAirtable,
    database_url: str,
    since: datetime,
    *,
    requests_per_second: float = 1000.0,
    **options: Any,
) -> Result:
    source = source_for(fake, requests_per_second)
    try:
        writer = WriteBack(
            source, database_url, Options(since=since, **options), console=Console(quiet=True)
        )
        return await writer.run()
    finally:
        source.close()
