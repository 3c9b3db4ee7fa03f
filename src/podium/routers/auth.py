"""Magic-link login: request a link by email, exchange it for an access token; log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from podium.deps import CurrentSession, CurrentUser, Db, SettingsDep
from podium.errors import error_responses
from podium.http.rate_limits import per_address
from podium.routers import api_router
from podium.schemas.auth import LoginRequest, LoginRequested, RedirectPath, Session
from podium.schemas.users import UserPrivate
from podium.services import auth as auth_service
from podium.services import sessions as sessions_service
from podium.services.rate_limits import Bucket

router = api_router(tags=["auth"])

_login_responses = error_responses(404, 422, 429, 502, 503)
_login_responses[429]["headers"] = {
    "Retry-After": {
        "description": "Seconds until another login email may be requested (for this address, "
        "or from this network)",
        "schema": {"type": "integer"},
    }
}


@router.post(
    "/request-login",
    response_model=LoginRequested,
    status_code=202,
    responses=_login_responses,
    dependencies=[per_address(Bucket.LOGIN)],
)
async def request_login(
    body: LoginRequest,
    settings: SettingsDep,
    db: Db,
    redirect: Annotated[
        RedirectPath | None,
        Query(description="Path on the frontend to return to after login, e.g. /events/abc"),
    ] = None,
) -> LoginRequested:
    """Email a login link to an existing user (a few per address per window)."""
    await auth_service.request_login(db, settings, body.email, redirect)
    return LoginRequested(expires_in_minutes=settings.magic_link_minutes)


@router.get(
    "/verify",
    response_model=Session,
    responses=error_responses(401, 422, 429, 503),
    dependencies=[per_address(Bucket.VERIFY)],
)
async def verify_login(
    settings: SettingsDep,
    db: Db,
    token: Annotated[str, Query(max_length=4096, description="The token from the login link")],
) -> Session:
    """Exchange a login link's token for an access token."""
    access_token, user = await auth_service.verify_login(db, settings, token)
    return Session(access_token=access_token, user=UserPrivate.of(user))


@router.post("/logout", status_code=204, responses=error_responses(401, 503))
async def log_out(session: CurrentSession, db: Db) -> None:
    """End this access token; the account's other tokens stay valid."""
    user, claims = session
    async with db.transaction() as tx:
        await sessions_service.log_out(tx, user, claims)


@router.post("/logout/everywhere", status_code=204, responses=error_responses(401, 503))
async def log_out_everywhere(user: CurrentUser, db: Db) -> None:
    """End every access token of this account, this one included (v1's too)."""
    async with db.transaction() as tx:
        await sessions_service.log_out_everywhere(tx, user)
