"""Accounts: sign-up, email lookup, the caller's own profile, public profiles."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from podium.deps import CurrentUser, Db, PathUser
from podium.errors import error_responses
from podium.routers import api_router
from podium.schemas.common import UserPublic
from podium.schemas.users import LookupEmail, UserCreate, UserExists, UserPrivate, UserUpdate
from podium.services import users as users_service

router = api_router(prefix="/users", tags=["users"])


@router.post(
    "/", response_model=UserPrivate, status_code=201, responses=error_responses(409, 422, 503)
)
async def create_user(body: UserCreate, db: Db) -> UserPrivate:
    """Sign up; then log in through POST /request-login."""
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


@router.put("/current", response_model=UserPrivate, responses=error_responses(400, 401, 422, 503))
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
