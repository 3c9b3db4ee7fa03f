"""Accounts: sign-up, email lookup, the caller's own profile, public profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Request

from podium.deps import CurrentUser, Db, PathUser, SettingsDep
from podium.errors import error_responses
from podium.http.client_address import client_ip
from podium.http.rate_limits import per_address, per_user
from podium.routers import api_router
from podium.schemas.common import UserPublic
from podium.schemas.users import LookupEmail, UserCreate, UserExists, UserPrivate, UserUpdate
from podium.services import signup_checks
from podium.services import users as users_service
from podium.services.rate_limits import Bucket

router = api_router(prefix="/users", tags=["users"])


@router.post(
    "/",
    response_model=UserPrivate,
    status_code=201,
    responses=error_responses(403, 409, 422, 429, 503),
    dependencies=[per_address(Bucket.SIGNUP)],
)
async def create_user(
    body: UserCreate,
    db: Db,
    settings: SettingsDep,
    request: Request,
    turnstile_token: Annotated[
        str | None,
        Header(
            alias=signup_checks.TURNSTILE_HEADER,
            max_length=signup_checks.TURNSTILE_TOKEN_MAX_LENGTH,
            description="The Cloudflare Turnstile widget's token (required when the server "
            "has Turnstile on)",
        ),
    ] = None,
) -> UserPrivate:
    """Sign up; then log in through POST /request-login."""
    signup_checks.refuse_disposable(body.email)
    address = client_ip(request.scope, settings.trusted_proxies)
    remote_ip = str(address) if address is not None else None
    await signup_checks.verify_turnstile(settings, turnstile_token, remote_ip)
    async with db.transaction() as tx:
        return UserPrivate.of(await users_service.create_user(tx, body))


@router.get("/exists", response_model=UserExists, responses=error_responses(422, 503))
async def user_exists(email: Annotated[LookupEmail, Query()], db: Db) -> UserExists:
    """Whether an account uses this email (case-insensitive)."""
    return UserExists(exists=await users_service.email_exists(db, email))


# Declared before /{user_id} so "current" and "exists" are not read as user IDs.
@router.get("/current", response_model=UserPrivate, responses=error_responses(401, 503))
async def read_current_user(user: CurrentUser) -> UserPrivate:
    """The caller's own profile."""
    return UserPrivate.of(user)


@router.put(
    "/current",
    response_model=UserPrivate,
    responses=error_responses(400, 401, 422, 429, 503),
    dependencies=[per_user(Bucket.EDITS)],
)
async def update_current_user(body: UserUpdate, user: CurrentUser, db: Db) -> UserPrivate:
    """Update the caller's profile (fields left out are kept; the email cannot change)."""
    async with db.transaction() as tx:
        return UserPrivate.of(await users_service.update_user(tx, user, body))


@router.delete("/current", status_code=204, responses=error_responses(401, 409, 503))
async def delete_current_user(user: CurrentUser, db: Db) -> None:
    """Delete the caller's account, its votes and memberships (409 while it owns events)."""
    async with db.transaction() as tx:
        await users_service.delete_account(tx, user)


@router.get("/{user_id}", response_model=UserPublic, responses=error_responses(404, 422, 503))
async def get_user(user: PathUser) -> UserPublic:
    """A user's public profile: ID and display name."""
    return UserPublic.of(user)
