"""Who may call every organiser and superadmin route: anonymous 401, a logged-in outsider 403,
the event's owner and a superadmin through (an event owner is an outsider to /superadmin/).

The routes come from the app itself: a route that needs an organiser (its dependencies include
the owner or superadmin check) or sits under /events/admin/ or /superadmin/ must have a row in
MATRIX, so a new organiser route without one fails `test_the_matrix_covers_every_organiser_route`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from podium.app import create_app
from podium.config import Settings
from podium.deps import load_owned_event, require_superadmin
from podium.models import Event, Project, User
from tests.api.conftest import attend, eid, make_event, make_project, pid, uid
from tests.api.test_superadmin import superadmin
from tests.conftest import MakeUser, auth_headers

# Routes an organiser passes by a check inside the service rather than a dependency: a project's
# link check is for its owner or the event's organiser (services.link_checks).
SERVICE_CHECKED = {
    ("GET", "/projects/{project_id}/link-check"),
    ("POST", "/projects/{project_id}/link-check"),
}


@dataclass(frozen=True)
class World:
    owner: User
    attendee: User
    event: Event
    project: Project
    trash_id: str


@dataclass(frozen=True)
class Expected:
    """The status each caller gets; `owner` is the event's owner (no superadmin)."""

    owner: int
    superadmin: int
    outsider: int = 403
    anonymous: int = 401
    json: Callable[[World], Any] | None = None
    params: Callable[[World], Any] | None = None


def _organiser(status: int, **request: Any) -> Expected:
    return Expected(owner=status, superadmin=status, **request)


def _superadmin_only(status: int, **request: Any) -> Expected:
    return Expected(owner=403, superadmin=status, **request)


MATRIX: dict[tuple[str, str], Expected] = {
    ("PUT", "/events/{event_id}"): _organiser(200, json=lambda w: {"name": "Renamed"}),
    ("DELETE", "/events/{event_id}"): _organiser(204),
    ("GET", "/events/admin/{event_id}"): _organiser(200),
    ("GET", "/events/admin/{event_id}/leaderboard"): _organiser(200),
    ("GET", "/events/admin/{event_id}/attendees"): _organiser(200),
    ("POST", "/events/admin/{event_id}/remove-attendee"): _organiser(
        204, json=lambda w: {"user": uid(w.attendee)}
    ),
    ("GET", "/events/admin/{event_id}/audit"): _organiser(200),
    ("GET", "/events/admin/{event_id}/votes"): _organiser(200),
    ("GET", "/events/admin/{event_id}/referrals"): _organiser(200),
    ("GET", "/events/admin/{event_id}/export/projects.csv"): _organiser(200),
    ("GET", "/events/admin/{event_id}/export/votes.csv"): _organiser(200),
    ("GET", "/events/admin/{event_id}/export/attendees.csv"): _organiser(200),
    ("GET", "/events/admin/{event_id}/export/referrals.csv"): _organiser(200),
    ("GET", "/projects/{project_id}/link-check"): _organiser(200),
    ("POST", "/projects/{project_id}/link-check"): _organiser(202),
    ("GET", "/superadmin/events"): _superadmin_only(200),
    ("GET", "/superadmin/users"): _superadmin_only(200),
    ("POST", "/superadmin/events"): _superadmin_only(
        201, json=lambda w: {"name": "On behalf", "owner": uid(w.owner)}
    ),
    ("POST", "/superadmin/events/{event_id}/owner"): _superadmin_only(
        200, json=lambda w: {"owner": uid(w.attendee)}
    ),
    ("PUT", "/superadmin/events/{event_id}/feature-flags"): _superadmin_only(
        200, json=lambda w: {"feature_flags": ["beta"]}
    ),
    ("GET", "/superadmin/audit"): _superadmin_only(200),
    ("GET", "/superadmin/trash"): _superadmin_only(200),
    ("POST", "/superadmin/trash/{trash_id}/restore"): _superadmin_only(200),
    ("DELETE", "/superadmin/trash/{trash_id}"): _superadmin_only(204),
    ("GET", "/superadmin/export/projects.csv"): _superadmin_only(
        200, params=lambda w: {"event": eid(w.event)}
    ),
}


def _depends_on(dependant: Dependant, checks: set[Callable[..., Any]]) -> bool:
    return any(sub.call in checks or _depends_on(sub, checks) for sub in dependant.dependencies)


def organiser_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route that only an organiser or a superadmin may call."""
    checks: set[Callable[..., Any]] = {load_owned_event, require_superadmin}
    found = set()
    for route in app.router.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods:
            key = (method, route.path)
            if (
                _depends_on(route.dependant, checks)
                or route.path.startswith(("/events/admin/", "/superadmin/"))
                or key in SERVICE_CHECKED
            ):
                found.add(key)
    return found


def test_the_matrix_covers_every_organiser_route() -> None:
    routes = organiser_routes(create_app(Settings()))
    assert routes - MATRIX.keys() == set(), "organiser routes without a row in MATRIX"
    assert MATRIX.keys() - routes == set(), "rows of MATRIX for routes that are gone"


async def _world(client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser) -> World:
    owner, attendee = await make_user(), await make_user()
    event = await make_event(owner, phase="voting")
    await attend(event, owner, attendee)
    project = await make_project(attendee, event)
    mine = await make_project(owner, event, name="Owner's")
    await db.execute(
        "INSERT INTO votes (event_id, project_id, voter_id) VALUES ($1, $2, $3)",
        event.pk,
        mine.pk,
        attendee.pk,
    )
    await db.execute(
        "INSERT INTO referrals (event_id, user_id, content) VALUES ($1, $2, 'a friend')",
        event.pk,
        attendee.pk,
    )
    # A finished check, so that the GET has one to show (a re-check may still be asked for).
    await db.execute(
        "INSERT INTO link_checks (project_id, status, checked_at, requested_at)"
        " VALUES ($1, 'valid', now(), now() - interval '1 day')",
        project.pk,
    )
    # A trash entry of the owner's: a project of another event, deleted while it takes changes.
    other = await make_event(owner, phase="submission")
    trashed = await make_project(owner, other, name="Trashed")
    deleted = await client.delete(f"/projects/{pid(trashed)}", headers=auth_headers(owner))
    assert deleted.status_code == 204, deleted.text
    listed = await client.get("/users/current/trash", headers=auth_headers(owner))
    trash_id = listed.json()["items"][0]["id"]
    return World(owner, attendee, event, project, trash_id)


CALLERS = ("anonymous", "outsider", "owner", "superadmin")


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids="{0[0]} {0[1]}".format)
async def test_who_may_call_the_route(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    make_user: MakeUser,
    method: str,
    path: str,
    caller: str,
) -> None:
    expected = MATRIX[(method, path)]
    world = await _world(client, db, make_user)
    headers: dict[str, str] = {}
    if caller == "outsider":
        headers = auth_headers(await make_user())
    elif caller == "owner":
        headers = auth_headers(world.owner)
    elif caller == "superadmin":
        headers = auth_headers(await superadmin(make_user, db))
    url = path.format(
        event_id=eid(world.event), project_id=pid(world.project), trash_id=world.trash_id
    )
    response = await client.request(
        method,
        url,
        headers=headers,
        json=expected.json(world) if expected.json else None,
        params=expected.params(world) if expected.params else None,
    )
    assert response.status_code == getattr(expected, caller), response.text
    if response.status_code in (401, 403):
        assert response.json()["error"]["code"] in ("unauthorized", "forbidden")
