"""Named dependencies: settings, the database, the current user, path IDs → rows."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import ormar
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from podium.config import Settings
from podium.db import Database, Executor
from podium.errors import ApiError, ErrorCode, forbidden, not_found
from podium.ids import Entity
from podium.models import Event, Project, User
from podium.public_ids import decode_id, id_schema
from podium.queries import rows
from podium.read_replica import ReadReplica
from podium.security import TokenClaims
from podium.services.access import require_owner
from podium.services.sessions import authenticate


# async: FastAPI runs a plain `def` dependency in a worker thread, a hand-off per request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


# async and plain: a generator dependency (one that would yield a connection) costs ~80 µs of
# CPU per request in FastAPI's machinery, a sixth of the event page. A route that writes opens
# the request's one transaction itself, `async with db.transaction() as tx:`, and passes `tx`
# to the services: it commits before the response is sent, so a client that sees 201 can rely
# on the data being there.
def database_of(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


async def get_database(request: Request) -> Database:
    return database_of(request)


# The app's database: reads go through it one statement at a time (autocommit); writes run in
# `db.transaction()`.
Db = Annotated[Database, Depends(get_database)]


def read_database_of(request: Request) -> Executor:
    """Where a public read runs: the read replica for an anonymous caller, when there is one.

    Any request with an Authorization header reads from the primary: whoever can write sends a
    token, so a caller always sees their own writes (read-your-writes) with no state shared
    between workers or instances (docs/operations.md). Without a replica this is the
    primary, at the cost of one attribute lookup.
    """
    replica: ReadReplica | None = request.app.state.read_replica
    if replica is None or "authorization" in request.headers:
        return database_of(request)
    return replica


async def get_read_database(request: Request) -> Executor:
    return read_database_of(request)


# The database of a public read (anonymous: the replica when configured), never for a write.
ReadDb = Annotated[Executor, Depends(get_read_database)]

_bearer = HTTPBearer(auto_error=False, description="Access token from GET /verify")


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


async def get_current_session(
    db: Db,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[User, TokenClaims]:
    if credentials is None:
        raise _unauthorized("an access token is required (Authorization: Bearer …)")
    return await authenticate(db, settings, credentials.credentials)


async def get_current_user(
    db: Db,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    # Not built on get_current_session: a dependency of a dependency costs every request.
    if credentials is None:
        raise _unauthorized("an access token is required (Authorization: Bearer …)")
    user, _ = await authenticate(db, settings, credentials.credentials)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
# The user and the claims of the very token the request carries (POST /logout ends it).
CurrentSession = Annotated[tuple[User, TokenClaims], Depends(get_current_session)]


class Viewer:
    """The caller of a public read, looked up only when a rule asks (a draft event is its
    owner's alone): the hot reads pay nothing for it, and the spec keeps them token-free."""

    def __init__(self, db: Database, settings: Settings, authorization: str | None) -> None:
        self._db, self._settings, self._authorization = db, settings, authorization

    async def user(self) -> User | None:
        """The user of a valid bearer token, else None (a bad token is just anonymous here)."""
        scheme, _, token = (self._authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        try:
            return await get_current_user(self._db, self._settings, credentials)
        except ApiError:
            return None


def viewer_of(request: Request) -> Viewer:
    """The request's viewer, for routes that take the request itself (no dependency's cost)."""
    settings: Settings = request.app.state.settings
    return Viewer(database_of(request), settings, request.headers.get("authorization"))


async def get_viewer(request: Request) -> Viewer:
    return viewer_of(request)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]

M = TypeVar("M", bound=ormar.Model)


async def load_by_public_id(
    db: Executor, entity: Entity, model: type[M], value: str, what: str
) -> M:
    """The row a path ID names: one indexed lookup, 404 for anything else.

    v1 record ids never get here: podium.http.legacy_redirects answers them with a 308 first.
    """
    seq = decode_id(entity, value)
    if seq is None:
        raise not_found(what)
    found = await rows.one_by(db, model, "seq", seq)
    if found is None:
        raise not_found(what)
    return found


def _path_id(entity: Entity) -> Any:
    # The pattern is documentation only: a malformed ID must be a 404, not FastAPI's 422.
    return Path(json_schema_extra=id_schema(entity))


async def load_event(db: ReadDb, event_id: Annotated[str, _path_id(Entity.EVENT)]) -> Event:
    return await load_by_public_id(db, Entity.EVENT, Event, event_id, "event")


async def load_project(db: ReadDb, project_id: Annotated[str, _path_id(Entity.PROJECT)]) -> Project:
    return await load_by_public_id(db, Entity.PROJECT, Project, project_id, "project")


async def load_user(db: ReadDb, user_id: Annotated[str, _path_id(Entity.USER)]) -> User:
    return await load_by_public_id(db, Entity.USER, User, user_id, "user")


PathEvent = Annotated[Event, Depends(load_event)]
PathProject = Annotated[Project, Depends(load_project)]
PathUser = Annotated[User, Depends(load_user)]

# A path event ID resolved by the handler itself (a malformed one is a 404, like PathEvent's).
EventPathId = Annotated[str, _path_id(Entity.EVENT)]
# A trash entry's path ID (podium.services.trash loads it, with the caller's right to it).
TrashPathId = Annotated[str, _path_id(Entity.TRASH)]


async def load_owned_event(user: CurrentUser, event: PathEvent) -> Event:
    require_owner(event, user)
    return event


# The path's event, for its owner only: 401 without a token, 404 unknown, 403 anyone else.
OwnedEvent = Annotated[Event, Depends(load_owned_event)]


async def require_superadmin(user: CurrentUser) -> User:
    if not user.is_superadmin:
        raise forbidden("only a superadmin may do this")
    return user


# The caller, a superadmin: 401 without a token, 403 for anyone else (podium admin grant).
Superadmin = Annotated[User, Depends(require_superadmin)]
