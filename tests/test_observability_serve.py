"""What `podium serve` writes and shows, from real servers: JSON request lines with no token in
any byte of the output, /metrics off or behind a token in production, and two workers' metrics
aggregated by a scrape through either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from podium_devtools.fake_loops import FakeLoops
from podium_devtools.sockets import LISTEN, free_port, sockets_on_port

START_TIMEOUT_SECONDS = 60  # a loaded 2-core machine takes ~30 s to start two workers
POOL_SIZE = 3
PRODUCTION_ID_KEY = "observability-test-id-key-0123456789"
JWT_SECRET = "observability-" + "j" * 32


@contextmanager
def serving(env: Mapping[str, str], output: Path, *, workers: int = 1) -> Iterator[str]:
    """`podium serve` on a free loopback port, its stdout and stderr in `output`; its URL."""
    port = free_port()
    command = [sys.executable, "-m", "podium.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with output.open("wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, "PODIUM_DATABASE_POOL_SIZE": str(POOL_SIZE), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not (len(sockets_on_port(port, LISTEN)) == workers and _healthy(base)):
                assert process.poll() is None, output.read_text()[-3000:]
                assert time.monotonic() < deadline, "podium serve did not start"
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=40)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def production_env(database_url: str, loops: FakeLoops) -> dict[str, str]:
    return {
        "PODIUM_ENV": "production",
        "DATABASE_URL": database_url,
        "PODIUM_JWT_SECRET": JWT_SECRET,
        "PODIUM_ID_KEY": PRODUCTION_ID_KEY,
        "PODIUM_LOOPS_API_KEY": loops.api_key,
        "PODIUM_LOOPS_TRANSACTIONAL_ID": loops.transactional_id,
        "PODIUM_LOOPS_API_URL": loops.url,
    }


def json_lines(output: Path) -> list[dict[str, object]]:
    """Every line of the output, each of which must be a JSON object."""
    lines = output.read_text().splitlines()
    assert lines
    return [json.loads(line) for line in lines]


def test_no_token_or_link_reaches_any_byte_of_the_output(
    database_url: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    output = tmp_path / "serve.log"
    email = "ada-observed@example.com"
    with (
        FakeLoops(api_key="loops-key", transactional_id="tx-login") as loops,
        serving(production_env(database_url, loops), output) as base,
    ):
        signed_up = httpx.post(
            f"{base}/users/", json={"email": email, "first_name": "Ada", "last_name": "L"}
        )
        assert signed_up.status_code == 201, signed_up.text
        mailed = httpx.post(f"{base}/request-login", json={"email": email})
        assert mailed.status_code == 202, mailed.text
        link = loops.requests[-1].json["dataVariables"]["auth_link"]
        [magic_token] = parse_qs(urlsplit(link).query)["token"]

        verified = httpx.get(
            f"{base}/verify", params={"token": magic_token}, headers={"X-Request-ID": "login-1"}
        )
        assert verified.status_code == 200, verified.text
        assert verified.headers["x-request-id"] == "login-1"
        access_token = verified.json()["access_token"]
        me = httpx.get(f"{base}/users/current", headers={"Authorization": f"Bearer {access_token}"})
        assert me.status_code == 200
        # Production, no PODIUM_METRICS_TOKEN: /metrics is off.
        assert httpx.get(f"{base}/metrics").status_code == 404

    raw = output.read_bytes()
    assert magic_token.encode() not in raw
    assert access_token.encode() not in raw
    assert link.encode() not in raw
    # The request line for /verify is there, its token redacted, as JSON like every line.
    lines = json_lines(output)
    [verify] = [line for line in lines if line.get("route") == "/verify"]
    assert verify["path"] == "/verify?token=[redacted]"
    assert (verify["request_id"], verify["status"], verify["method"]) == ("login-1", 200, "GET")
    assert verify["client"] == "127.0.0.1"
    assert isinstance(verify["duration_ms"], float)
    # uvicorn's own lines (its start-up) are JSON too, and its access log is gone.
    assert any(line.get("logger") == "uvicorn.error" for line in lines)
    assert not any(line.get("logger") == "uvicorn.access" for line in lines)


def test_metrics_behind_a_token_in_production(
    database_url: str, db: asyncpg.Pool, tmp_path: Path
) -> None:
    with (
        FakeLoops() as loops,
        serving(
            {**production_env(database_url, loops), "PODIUM_METRICS_TOKEN": "scrape-me"},
            tmp_path / "serve.log",
        ) as base,
    ):
        assert httpx.get(f"{base}/metrics").status_code == 401
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        scraped = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200
        assert "podium_http_requests_total" in scraped.text
    assert b"scrape-me" not in (tmp_path / "serve.log").read_bytes()


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_through_either_of_two_workers_counts_the_whole_server(
    database_url: str, tmp_path: Path
) -> None:
    env = {"PODIUM_ENV": "development", "DATABASE_URL": database_url, "PODIUM_METRICS": "public"}
    requests = 40
    with serving(env, tmp_path / "serve.log", workers=2) as base:
        before = time.monotonic()
        # A new connection each: the kernel spreads them over both workers' sockets.
        for _ in range(requests):
            assert httpx.get(f"{base}/events/e_AAAAAAA").status_code == 404
        time.sleep(0.2)  # well within the pool sampler's cycle, for the gauges below
        scrapes = [_samples(httpx.get(f"{base}/metrics").text) for _ in range(12)]
        assert time.monotonic() - before < START_TIMEOUT_SECONDS
    counted = frozenset({("method", "GET"), ("route", "/events/{event_id}"), ("status", "404")})
    # 40 connections spread by a hash of the client port: that one worker took them all has a
    # chance of 2**-39, so a worker that counted only its own would show fewer than 40.
    for samples in scrapes:
        # Either worker answers with both workers' counts, and both pools.
        assert samples[("podium_http_requests_total", counted)] == requests
        assert samples[("podium_db_pool_max_connections", frozenset({("pool", "primary")}))] == (
            2 * POOL_SIZE
        )
