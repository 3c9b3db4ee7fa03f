"""Magic-link login: request a link by email, exchange it for an access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from podium.deps import Db, SettingsDep
from podium.errors import error_responses
from podium.http.rate_limits import per_address
from podium.schemas.auth import LoginRequest, LoginRequested, RedirectPath, Session
from podium.schemas.users import UserPrivate
from podium.services import auth as auth_service
from podium.services.rate_limits import Bucket

router = APIRouter(tags=["auth"])

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
