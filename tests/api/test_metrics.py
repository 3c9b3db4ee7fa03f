"""/metrics: request counts per route template and status, latency, the pool, votes, login mails,
database 503s, and who may scrape it. Two workers aggregated: tests/test_observability_serve.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from podium.config import MetricsAccess, MissingSecretError, Settings
from podium.db import Database, Timeouts
from tests.api.conftest import attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def requests_of(samples: Samples, method: str, route: str, status: int) -> float:
    return value(
        samples, "podium_http_requests_total", method=method, route=route, status=str(status)
    )


@pytest.fixture
def use_settings(app: FastAPI, settings: Settings) -> Iterator[Any]:
    def use(**changes: Any) -> None:
        app.state.settings = settings.model_copy(update=changes)

    yield use
    app.state.settings = settings


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    before = await scrape(client)

    for _ in range(3):
        assert (await client.get(f"/events/{eid(event)}")).status_code == 200
    assert (await client.get("/events/e_AAAAAAA")).status_code == 404
    assert (await client.get("/no/such/path")).status_code == 404
    # A legacy record id is redirected before routing: counted under the spec's template.
    assert (await client.get("/events/recAAAAAAAAAAAAAA")).status_code == 404
    after = await scrape(client)

    template = "/events/{event_id}"
    assert requests_of(after, "GET", template, 200) - requests_of(before, "GET", template, 200) == 3
    assert requests_of(after, "GET", template, 404) - requests_of(before, "GET", template, 404) == 2
    assert (
        requests_of(after, "GET", "unmatched", 404) - requests_of(before, "GET", "unmatched", 404)
        == 1
    )
    # Never a raw path as a label value: one series per template.
    routes = {dict(labels).get("route") for name, labels in after if name.startswith("podium_http")}
    assert not any(route and eid(event) in route for route in routes)

    count = "podium_http_request_duration_seconds_count"
    assert (
        value(after, count, method="GET", route=template)
        - value(before, count, method="GET", route=template)
        == 5
    )
    latency_sum = value(
        after, "podium_http_request_duration_seconds_sum", method="GET", route=template
    )
    assert latency_sum > 0
    # Buckets are cumulative: +Inf holds every request of the route.
    inf = value(
        after,
        "podium_http_request_duration_seconds_bucket",
        method="GET",
        route=template,
        le="+Inf",
    )
    assert inf == value(after, count, method="GET", route=template)


async def test_a_made_up_method_is_counted_as_other(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    for method in ("BREW", "X-ANYTHING-1", "X-ANYTHING-2"):
        assert (await client.request(method, "/health")).status_code == 405
    after = await scrape(client)
    assert (
        requests_of(after, "other", "/health", 405) - requests_of(before, "other", "/health", 405)
        == 3
    )
    methods = {dict(labels).get("method") for name, labels in after}
    assert not methods & {"BREW", "X-ANYTHING-1"}


async def test_the_pool_gauges_read_the_pool_at_the_scrape(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/health")).status_code == 200
    samples = await scrape(client)
    maximum = value(samples, "podium_db_pool_max_connections", pool="primary")
    assert maximum == settings.database_pool_size
    in_use = value(samples, "podium_db_pool_connections", pool="primary", state="in_use")
    idle = value(samples, "podium_db_pool_connections", pool="primary", state="idle")
    # The health check's connection went back to the pool; nothing else runs.
    assert in_use == 0 and idle >= 1
    assert ("podium_db_pool_waiting", frozenset({("pool", "primary")})) in samples


async def test_waiting_counts_requests_queued_for_a_connection(database_url: str) -> None:
    import asyncio

    database = Database(database_url, size=1)
    await database.open()
    try:
        async with database.transaction():
            queued = asyncio.create_task(database.fetchval("SELECT 1"))
            await asyncio.sleep(0.1)
            assert database.pool_figures() == (1, 0, 1, 1)
        assert await queued == 1
        assert database.pool_figures() == (0, 1, 0, 1)
    finally:
        await database.close()


async def test_votes_cast_are_counted_once_stored(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, voter = await make_user(), await make_user()
    event = await make_event(owner, phase="voting")
    await attend(event, voter, owner)
    projects = [await make_project(owner, event, name=f"P{n}") for n in range(4)]
    before = value(await scrape(client), "podium_votes_cast_total")

    vote = {"event": eid(event), "projects": [pid(projects[0]), pid(projects[1])]}
    response = await client.post("/events/vote", json=vote, headers=auth_headers(voter))
    assert response.status_code == 201, response.text
    # Refused (already voted): nothing stored, nothing counted.
    response = await client.post("/events/vote", json=vote, headers=auth_headers(voter))
    assert response.status_code == 409

    assert value(await scrape(client), "podium_votes_cast_total") - before == 2


async def test_login_mails_sent_are_counted(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    before = value(await scrape(client), "podium_login_mails_sent_total")
    response = await client.post("/request-login", json={"email": user.email})
    assert response.status_code == 202, response.text
    # No such account: no mail.
    response = await client.post("/request-login", json={"email": "nobody@example.com"})
    assert response.status_code == 404
    assert value(await scrape(client), "podium_login_mails_sent_total") - before == 1


@pytest.fixture
async def refused(app: FastAPI) -> AsyncIterator[None]:
    """The app's database swapped for one whose server refuses connections."""
    down = Database(
        "postgresql://postgres@127.0.0.1:9/podium", size=2, timeouts=Timeouts(connect=1)
    )
    await down.open()
    previous, app.state.database = app.state.database, down
    try:
        yield
    finally:
        app.state.database = previous
        await down.close()


async def test_database_503s_are_counted_by_the_driver_error(
    app: FastAPI, client: httpx.AsyncClient, refused: None
) -> None:
    name = "podium_database_unavailable_total"
    before = await scrape(client)
    assert (await client.get("/users/u_NkM7Ied")).status_code == 503
    assert (await client.get("/events/id/some-slug")).status_code == 503
    after = await scrape(client)
    grown = {
        dict(labels)["error"]: after[(metric, labels)] - before.get((metric, labels), 0.0)
        for metric, labels in after
        if metric == name
    }
    assert sum(grown.values()) == 2
    assert grown.get("ConnectionRefusedError") == 2, grown
    assert requests_of(after, "GET", "/users/{user_id}", 503) >= 1


async def test_metrics_off_is_404_as_if_there_were_no_route(
    client: httpx.AsyncClient, use_settings: Any
) -> None:
    use_settings(metrics=MetricsAccess.OFF)
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_metrics_behind_a_token_needs_that_bearer_token(
    client: httpx.AsyncClient, use_settings: Any
) -> None:
    use_settings(metrics=MetricsAccess.TOKEN, metrics_token=SecretStr("scrape-secret"))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-secret"}):
        response = await client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    await scrape(client, Authorization="Bearer scrape-secret")


def test_the_default_access_is_a_token_when_one_is_set_else_off_in_production() -> None:
    base = Settings(env="development", id_key=SecretStr("k"), jwt_secret=SecretStr("s"))
    assert base.metrics_access is MetricsAccess.PUBLIC
    production = {
        "env": "production",
        "database_url": "postgresql://db/podium",
        "jwt_secret": SecretStr("s"),
        "id_key": SecretStr("a-production-key"),
        "loops_api_key": SecretStr("l"),
        "loops_transactional_id": "t",
    }
    assert Settings(**production).metrics_access is MetricsAccess.OFF
    with_token = Settings(**production, metrics_token=SecretStr("t"))
    assert with_token.metrics_access is MetricsAccess.TOKEN
    assert Settings(**production, metrics="public").metrics_access is MetricsAccess.PUBLIC
    with pytest.raises(MissingSecretError, match="PODIUM_METRICS_TOKEN"):
        Settings(**production, metrics="token")


def test_metrics_is_not_in_the_spec(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]
