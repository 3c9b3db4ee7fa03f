"""Two `podium serve` instances on one database behind Debian's HAProxy, all on loopback.

The database is a fresh copy of the migrated template on the tests' PostgreSQL, seeded with one
event open for voting; both instances mail through one fake Loops; HAProxy balances them round
robin and names the instance that answered each request (`X-Podium-Instance`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from benchmarks.loadbench.seed import SeededEvent, SeedPlan, generate, write

from podium.ids import DEVELOPMENT_ID_KEY
from podium.public_ids import configure_codec
from podium.services.access import max_votes_per_user
from podium_devtools.fake_loops import FakeLoops
from podium_devtools.haproxy import HAProxy
from podium_devtools.sockets import free_port
from tests.conftest import TEST_JWT_SECRET, PgServer

INSTANCES = ("a", "b")
PROJECTS = 20
VOTERS = 200
START_TIMEOUT_SECONDS = 90  # two instances starting at once on a loaded 2-core machine
LOOPS_KEY = "loops-instances-key"


@dataclass(frozen=True)
class Instances:
    balancer: HAProxy
    database_url: str
    event: SeededEvent
    vote_limit: int
    loops: FakeLoops
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
async def seeded_database(
    pg_server: PgServer, migrated_template: str
) -> AsyncIterator[tuple[str, SeededEvent]]:
    """A fresh database of this module's own: one event in voting, PROJECTS projects, VOTERS
    attendees who have not voted yet."""
    name = f"podium_instances_{os.getpid()}_{secrets.token_hex(3)}"
    url = await pg_server.create_database(name, migrated_template)
    try:
        plan = SeedPlan(
            small_events=0,
            big_event_projects=PROJECTS,
            attendees=VOTERS,
            votes=0,
            burst_voters=VOTERS,
            big_event_share=1.0,
            referral_share=0.0,
        )
        rows, dataset = generate(plan)
        conn = await asyncpg.connect(url)
        try:
            await write(conn, rows)
        finally:
            await conn.close()
        yield url, dataset.big
    finally:
        await pg_server.drop_database(name)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def podium_instances(
    database_url: str, loops: FakeLoops, directory: Path
) -> Iterator[tuple[dict[str, int], dict[str, Path], dict[str, subprocess.Popen[bytes]]]]:
    """`podium serve --workers 1` per name in INSTANCES, each on a loopback port of its own, all
    on `database_url`; their ports, log files and processes. Stopped (SIGTERM) on the way out."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PODIUM_ENV": "development",
        "PODIUM_JWT_SECRET": TEST_JWT_SECRET,
        "PODIUM_ID_KEY": DEVELOPMENT_ID_KEY,
        "PODIUM_DATABASE_POOL_SIZE": "10",
        "PODIUM_LOOPS_API_URL": loops.url,
        "PODIUM_LOOPS_API_KEY": LOOPS_KEY,
        "PODIUM_LOOPS_TRANSACTIONAL_ID": loops.transactional_id,
    }
    ports = {name: free_port() for name in INSTANCES}
    logs = {name: directory / f"podium-{name}.log" for name in INSTANCES}
    with ExitStack() as files:
        processes: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, port in ports.items():
                log = files.enter_context(logs[name].open("wb"))
                command = [sys.executable, "-m", "podium.cli", "serve", "--workers", "1"]
                processes[name] = subprocess.Popen(
                    [*command, "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            for name, port in ports.items():
                while not _healthy(port):
                    assert processes[name].poll() is None, logs[name].read_text()[-3000:]
                    assert time.monotonic() < deadline, logs[name].read_text()[-3000:]
                    time.sleep(0.1)
            yield ports, logs, processes
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def instances(
    seeded_database: tuple[str, SeededEvent], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instances]:
    configure_codec(DEVELOPMENT_ID_KEY)  # the tests build and read public IDs too
    database_url, event = seeded_database
    directory = tmp_path_factory.mktemp("instances")
    with (
        FakeLoops(api_key=LOOPS_KEY, transactional_id="tx-login-link") as loops,
        podium_instances(database_url, loops, directory) as (ports, logs, processes),
        HAProxy.start(ports) as balancer,
    ):
        limit = max_votes_per_user(PROJECTS)
        stack = Instances(balancer, database_url, event, limit, loops, logs, processes)
        yield stack
    # A worker's traceback is a 500 somebody got, whatever the answers looked like.
    for name, path in logs.items():
        log = path.read_text()
        assert "Traceback" not in log, f"podium serve {name}:\n{log[-4000:]}"
