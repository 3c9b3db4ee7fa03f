"""`podium serve` looks at what DATABASE_URL leads to and refuses a pooler it is not set up for."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from podium import pooler
from podium.config import PgBouncerMode
from podium.pooler import Pooler
from podium_devtools.pgbouncer import BINARY_VARIABLE, PgBouncer, tracks_prepared_statements
from podium_devtools.sockets import free_port

START_TIMEOUT_SECONDS = 90  # a loaded CI machine takes seconds to import the app

DIRECT = Pooler(pooled=False)
TRACKING = Pooler(pooled=True, tracks_prepared_statements=True)
SHARING = Pooler(pooled=True, shares_server_connections=True)
BY_SESSION = Pooler(pooled=True)


@pytest.mark.parametrize("mode", list(PgBouncerMode))
@pytest.mark.parametrize("found", [DIRECT, TRACKING])
def test_postgresql_or_a_pooler_that_tracks_prepared_statements_is_fine_in_any_mode(
    found: Pooler, mode: PgBouncerMode
) -> None:
    assert pooler.refusal(found, mode) is None


@pytest.mark.parametrize("mode", [PgBouncerMode.OFF, PgBouncerMode.SESSION])
def test_a_pooler_sharing_server_connections_needs_the_transaction_setting(
    mode: PgBouncerMode,
) -> None:
    reason = pooler.refusal(SHARING, mode)
    assert reason is not None and "PODIUM_DATABASE_PGBOUNCER=transaction" in reason
    assert "max_prepared_statements" in reason
    assert pooler.refusal(SHARING, PgBouncerMode.TRANSACTION) is None


def test_a_pooler_that_seems_to_pool_by_session_must_be_said_to() -> None:
    reason = pooler.refusal(BY_SESSION, PgBouncerMode.OFF)
    assert reason is not None and "PODIUM_DATABASE_PGBOUNCER=session" in reason
    assert pooler.refusal(BY_SESSION, PgBouncerMode.SESSION) is None


def _server(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def transaction_pooling(database_url: str) -> Iterator[PgBouncer]:
    with PgBouncer.start(_server(database_url), pool_size=2) as bouncer:
        yield bouncer


def _through(bouncer: PgBouncer, database_url: str) -> str:
    return bouncer.url(make_url(database_url).database or "")


@pytest.mark.pgbouncer
async def test_the_probe_tells_postgresql_from_pgbouncer_in_either_pool_mode(
    database_url: str, transaction_pooling: PgBouncer
) -> None:
    assert await pooler.probe(database_url) == DIRECT
    assert await pooler.probe(_through(transaction_pooling, database_url)) == SHARING
    with PgBouncer.start(_server(database_url), pool_size=2, pool_mode="session") as session:
        assert await pooler.probe(_through(session, database_url)) == BY_SESSION


def _serve(database_url: str, **env: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "podium.cli", "serve", "--host", "127.0.0.1"]
    return subprocess.Popen(
        [*command, "--port", str(env.pop("PORT")), "--no-access-log"],
        env={**os.environ, "DATABASE_URL": database_url, "PODIUM_ENV": "development", **env},
        stderr=subprocess.PIPE,
    )


@pytest.mark.pgbouncer
def test_serve_refuses_pgbouncer_1_18_transaction_pooling_without_the_setting(
    database_url: str, transaction_pooling: PgBouncer
) -> None:
    server = _serve(_through(transaction_pooling, database_url), PORT=str(free_port()))
    _, stderr = server.communicate(timeout=START_TIMEOUT_SECONDS)

    assert server.returncode == 1
    assert b"PODIUM_DATABASE_PGBOUNCER=transaction" in stderr
    assert b"max_prepared_statements" in stderr


@pytest.fixture(scope="module")
def tracking(database_url: str) -> Iterator[PgBouncer]:
    """PgBouncer >= 1.21 in transaction pooling, tracking prepared statements."""
    if not tracks_prepared_statements():
        pytest.skip(f"needs PgBouncer >= 1.21: set {BINARY_VARIABLE} (devtools/build-pgbouncer.sh)")
    with PgBouncer.start(
        _server(database_url),
        pool_size=2,
        max_prepared_statements=200,
        ignore_startup_parameters=("statement_timeout",),
    ) as bouncer:
        yield bouncer


@pytest.mark.pgbouncer
async def test_the_probe_sees_pgbouncer_tracking_prepared_statements(
    database_url: str, tracking: PgBouncer
) -> None:
    assert await pooler.probe(_through(tracking, database_url)) == TRACKING


@pytest.mark.pgbouncer
def test_serve_starts_behind_pgbouncer_1_21_tracking_prepared_statements_with_off(
    database_url: str, tracking: PgBouncer
) -> None:
    _serves(_through(tracking, database_url), PODIUM_DATABASE_PGBOUNCER="off")


@pytest.mark.pgbouncer
def test_serve_refuses_a_pooler_that_would_refuse_its_statement_timeout(
    database_url: str,
) -> None:
    # PgBouncer >= 1.21 tracking prepared statements is fine at `off`, but only once told to
    # ignore the statement_timeout the app's pool sends at connect: without it every connection
    # would be refused and every request a 503. serve says so before it starts.
    if not tracks_prepared_statements():
        pytest.skip(f"needs PgBouncer >= 1.21: set {BINARY_VARIABLE} (devtools/build-pgbouncer.sh)")
    with PgBouncer.start(_server(database_url), pool_size=2, max_prepared_statements=200) as plain:
        url = _through(plain, database_url)
        server = _serve(url, PORT=str(free_port()), PODIUM_DATABASE_PGBOUNCER="off")
        _, stderr = server.communicate(timeout=START_TIMEOUT_SECONDS)
        # With no statement timeout to send, the same pooler is fine.
        _serves(url, PODIUM_DATABASE_PGBOUNCER="off", PODIUM_DATABASE_STATEMENT_TIMEOUT="0")

    assert server.returncode == 1, stderr
    assert b"ignore_startup_parameters = statement_timeout" in stderr
    assert b"PODIUM_DATABASE_STATEMENT_TIMEOUT=0" in stderr


@pytest.mark.pgbouncer
def test_serve_starts_behind_pgbouncer_1_18_with_the_setting(
    database_url: str, transaction_pooling: PgBouncer
) -> None:
    _serves(_through(transaction_pooling, database_url), PODIUM_DATABASE_PGBOUNCER="transaction")


def _serves(url: str, **env: str) -> None:
    """`podium serve` on `url` starts and its /health answers 200 (the database reached)."""
    port = free_port()
    server = _serve(url, PORT=str(port), **env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "podium serve did not start"
                time.sleep(0.2)
        assert response.status_code == 200, response.text
    finally:
        server.terminate()
        server.communicate(timeout=40)
