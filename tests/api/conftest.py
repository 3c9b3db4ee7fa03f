"""Arrange and assert helpers shared by the API tests; plain functions, imported where used.

Rows are made through ormar with unique slugs and join codes, so a test states only what it is
about: `make_event(owner, votable=True)`, `attend(event, ada)` (an attendance row),
`make_project(ada, event)`. `join_event` is the HTTP call a user makes to attend (the route under
test), `joined` the same when the test only needs it done.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from podium.ids import Entity
from podium.models import Event, EventAttendee, Project, User
from podium.models.phase import DEFAULT_PHASE, Phase, PhaseState, with_v1_writes
from podium.public_ids import public_id
from podium.security import TokenType, create_token
from tests.conftest import TEST_JWT_SECRET, auth_headers


async def make_event(owner: User, **fields: Any) -> Event:
    """An event row; v1's `votable`/`leaderboard_enabled` are taken as a v1 client's create
    would write them (podium.models.phase.with_v1_writes on a new event)."""
    votable, shown = fields.pop("votable", None), fields.pop("leaderboard_enabled", None)
    start = PhaseState(
        Phase(fields.pop("phase", DEFAULT_PHASE)), fields.pop("live_leaderboard", False)
    )
    state = with_v1_writes(start, votable, shown)
    fields.update(phase=state.phase.value, live_leaderboard=state.live_leaderboard)
    fields.setdefault("name", "Hack Night")
    fields.setdefault("slug", "hack-" + secrets.token_hex(4))
    fields.setdefault("join_code", secrets.token_hex(3).upper())
    return await Event.objects.create(owner=owner, **fields)


async def attend(event: Event, *users: User) -> None:
    for user in users:
        await EventAttendee.objects.create(event=event, user=user)


async def make_project(owner: User, event: Event, name: str = "Rover", **fields: Any) -> Project:
    fields.setdefault("join_code", secrets.token_hex(4).upper())
    return await Project.objects.create(name=name, owner=owner, event=event, **fields)


async def join_event(
    client: httpx.AsyncClient, user: User, join_code: str, referral: str | None = None
) -> httpx.Response:
    """POST /events/attend as `user`."""
    params = {"join_code": join_code}
    if referral is not None:
        params["referral"] = referral
    return await client.post("/events/attend", params=params, headers=auth_headers(user))


async def joined(
    client: httpx.AsyncClient, user: User, join_code: str, referral: str | None = None
) -> None:
    """`join_event`, which must succeed."""
    response = await join_event(client, user, join_code, referral)
    assert response.status_code == 200, response.text


def eid(event: Event) -> str:
    return public_id(Entity.EVENT, event.seq)


def pid(project: Project) -> str:
    return public_id(Entity.PROJECT, project.seq)


def uid(user: User) -> str:
    return public_id(Entity.USER, user.seq)


def error_code(response: httpx.Response) -> str:
    """The `error.code` of an error body."""
    code: str = response.json()["error"]["code"]
    return code


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def login_link_token(
    db: asyncpg.Pool, email: str, lifetime: timedelta = timedelta(minutes=15)
) -> str:
    """A magic link's token as POST /request-login issues it: a login_links row, its `jti`."""
    link_id = await db.fetchval(
        "INSERT INTO login_links (email, created_at, expires_at)"
        " VALUES ($1, clock_timestamp(), clock_timestamp() + $2) RETURNING id",
        email,
        lifetime,
    )
    return create_token(email, TokenType.MAGIC_LINK, TEST_JWT_SECRET, lifetime, jti=str(link_id))
