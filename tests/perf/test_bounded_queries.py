"""No route runs an unbounded query: every list is paginated or has a stated, enforced bound.

Two views of the same promise:
- the contract: every GET operation returning a list either takes a `limit` with a maximum or
  is named in BOUNDED_LISTS with the ceiling that applies to it;
- the SQL: every SELECT sent while serving those routes either ends in a LIMIT or is keyed by a
  unique column (one row), captured at the driver so raw asyncpg reads count too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import asyncpg
import asyncpg.connection
import asyncpg.prepared_stmt
import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import MakeUser, auth_headers

from podium.app import create_app
from podium.config import Settings
from podium.ids import Entity
from podium.public_ids import public_id
from podium.queries.events import MAX_LISTED_EVENTS
from podium.queries.projects import MAX_LISTED_PROJECTS
from podium.services.pagination import MAX_LIMIT

# operationId -> why its list is bounded without a `limit` parameter.
BOUNDED_LISTS = {
    "list_my_events": f"each list stops at MAX_LISTED_EVENTS ({MAX_LISTED_EVENTS})",
    "list_event_projects": f"one event's projects, at most MAX_LISTED_PROJECTS ({MAX_LISTED_PROJECTS})",
    "get_admin_leaderboard": f"one event's projects, at most MAX_LISTED_PROJECTS ({MAX_LISTED_PROJECTS})",
    "list_my_projects": f"at most MAX_LISTED_PROJECTS ({MAX_LISTED_PROJECTS})",
    # Not capped by a rule: a project's collaborators are a hackathon team (joining needs the
    # project's join code); docs/performance.md lists it among the open points.
    "get_project": "one project's collaborators (its team)",
    # podium.link_checks.checks: each checked link (repo, demo) gives one reason at most.
    "get_link_check": "one project's link-check reasons, at most one per checked link (2)",
}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _returns_list(spec: dict[str, Any], operation: dict[str, Any]) -> bool:
    """Whether the success response is an array or an object holding arrays of entities."""
    for status in ("200", "201"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        schema = _resolve(spec, schema)
        if schema.get("type") == "array":
            return True
        for prop in schema.get("properties", {}).values():
            prop = _resolve(spec, prop)
            if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
                return True
    return False


def _list_operations(app: FastAPI) -> Iterator[tuple[str, dict[str, Any]]]:
    spec = app.openapi()
    for path, operations in spec["paths"].items():
        operation = operations.get("get")
        if operation is not None and _returns_list(spec, operation):
            yield path, operation


def _limit_maximum(operation: dict[str, Any]) -> int | None:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == "limit":
            maximum = parameter.get("schema", {}).get("maximum")
            return int(maximum) if maximum is not None else None
    return None


@pytest.fixture(scope="module")
def openapi_app() -> FastAPI:
    return create_app(Settings())


def test_every_list_route_is_paginated_with_a_maximum_or_has_a_stated_bound(
    openapi_app: FastAPI,
) -> None:
    unbounded = []
    for path, operation in _list_operations(openapi_app):
        maximum = _limit_maximum(operation)
        if maximum is not None:
            assert maximum <= MAX_LIMIT, f"{path}: limit maximum {maximum} above {MAX_LIMIT}"
        elif operation["operationId"] not in BOUNDED_LISTS:
            unbounded.append(f"GET {path} ({operation['operationId']})")
    assert not unbounded, f"list routes without `limit` or a stated bound: {unbounded}"


def test_every_stated_bound_names_a_list_route(openapi_app: FastAPI) -> None:
    listed = {operation["operationId"] for _, operation in _list_operations(openapi_app)}
    assert set(BOUNDED_LISTS) <= listed


# A SELECT is bounded when its outermost query ends in LIMIT (maybe with FOR UPDATE/SHARE), or
# it is keyed by a unique column or pair, so it returns at most one row.
_PARAM = r"(\$\d+(::\w+)?|\d+)"  # a bind parameter (maybe cast) or a literal
_ENDS_WITH_LIMIT = re.compile(
    rf"\bLIMIT\s+{_PARAM}(\s+OFFSET\s+{_PARAM})?(\s+FOR\s+\w+(\s+\w+)?)?\s*;?\s*$", re.I
)
_UNIQUE_KEY = re.compile(
    rf"\bWHERE\s+(\w+\.)?(id|seq|email|slug|join_code)\s*=\s*{_PARAM}\s*(ORDER BY [\w.]+\s*)?$",
    re.I,
)
_UNIQUE_PAIR = re.compile(
    rf"\bWHERE\s+(\w+\.)?event_id\s*=\s*{_PARAM}\s+AND\s+(\w+\.)?user_id\s*=\s*{_PARAM}", re.I
)
# event_revisions is keyed by its event (one row per event: podium.models.revision).
_REVISION_OF_EVENT = re.compile(
    rf"\bFROM\s+event_revisions\s+WHERE\s+(\w+\.)?event_id\s*=\s*{_PARAM}\s*$", re.I
)
_AGGREGATE = re.compile(r"^\s*SELECT\s+(count\(\*\)|1\b|EXISTS)", re.I)


def _bounded(sql: str) -> bool:
    text = " ".join(sql.split())
    return bool(
        _ENDS_WITH_LIMIT.search(text)
        or _UNIQUE_KEY.search(text)
        or _UNIQUE_PAIR.search(text)
        or _REVISION_OF_EVENT.search(text)
        or _AGGREGATE.search(text)
    )


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement prepared or run on any asyncpg connection meanwhile."""
    sent: list[str] = []
    connection = asyncpg.connection.Connection
    for name in ("prepare", "fetch", "fetchrow", "fetchval"):
        original = getattr(connection, name)

        async def recorded(
            self: Any, query: str, *args: Any, _original: Any = original, **kwargs: Any
        ) -> Any:
            sent.append(query)
            return await _original(self, query, *args, **kwargs)

        monkeypatch.setattr(connection, name, recorded)
    # SQLAlchemy prepares a statement once per connection, then runs the prepared statement.
    prepared = asyncpg.prepared_stmt.PreparedStatement
    fetch = prepared.fetch

    async def recorded_fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(self.get_query())
        return await fetch(self, *args, **kwargs)

    monkeypatch.setattr(prepared, "fetch", recorded_fetch)
    return sent


async def test_list_routes_send_only_bounded_selects(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool, statements: list[str]
) -> None:
    owner, maker, helper = await make_user(), await make_user(), await make_user()
    created = await client.post(
        "/events/",
        json={"name": "Bounded Hack", "votable": True, "leaderboard_enabled": True},
        headers=auth_headers(owner),
    )
    event = created.json()
    for user in (maker, helper):
        joined = await client.post(
            "/events/attend",
            params={"join_code": event["join_code"], "referral": "a friend"},
            headers=auth_headers(user),
        )
        assert joined.status_code == 200
    project = await client.post(
        "/projects/",
        json={
            "event": event["id"],
            "name": "Bounded",
            "repo": "https://example.com/r",
            "image_url": "https://example.com/i.png",
            "demo": "https://example.com/d",
        },
        headers=auth_headers(maker),
    )
    assert project.status_code == 201
    joined = await client.post(
        "/projects/join",
        params={"join_code": project.json()["join_code"]},
        headers=auth_headers(helper),
    )
    assert joined.status_code == 200
    statements.clear()

    event_id = event["id"]
    calls = [
        ("/events/", maker),
        (f"/events/{event_id}/projects", maker),
        (f"/events/{event_id}/projects?leaderboard=true", maker),
        (f"/events/admin/{event_id}/leaderboard", owner),
        (f"/events/admin/{event_id}/attendees", owner),
        (f"/events/admin/{event_id}/votes", owner),
        (f"/events/admin/{event_id}/referrals", owner),
        ("/projects/mine", helper),
        (f"/users/{public_id(Entity.USER, maker.seq)}", maker),
    ]
    for path, user in calls:
        response = await client.get(path, headers=auth_headers(user))
        assert response.status_code == 200, (path, response.text)

    selects = [sql for sql in statements if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert selects, "no statement was captured"
    unbounded = [" ".join(sql.split())[-260:] for sql in selects if not _bounded(sql)]
    assert not unbounded, "unbounded SELECTs:\n" + "\n".join(unbounded)
