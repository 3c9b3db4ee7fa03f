"""Accounts: sign-up, lookup by email, profile updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from podium.db import violation
from podium.errors import ApiError, ErrorCode, bad_request, conflict
from podium.models import User
from podium.models.constraints import Constraint
from podium.schemas.users import UserCreate, UserUpdate


def default_display_name(first_name: str, last_name: str) -> str:
    """First name and last initial ("Ada L."), or the first name alone."""
    return f"{first_name} {last_name[0]}." if last_name else first_name


def _email_taken() -> ApiError:
    return conflict(
        ErrorCode.EMAIL_TAKEN, "an account with this email already exists; log in instead"
    )


async def create_user(data: UserCreate) -> User:
    fields = data.model_dump()
    if not fields["display_name"]:
        fields["display_name"] = default_display_name(data.first_name, data.last_name)
    try:
        user = await User.objects.create(**fields)
    except IntegrityError as exc:
        # The unique index decides, so concurrent sign-ups for one address get exactly one 201.
        if violation(exc).constraint == Constraint.USERS_EMAIL:
            raise _email_taken() from None
        raise
    # `seq` comes from a server default that ormar does not read back.
    await user.load()
    return user


async def email_exists(email: str) -> bool:
    return await User.objects.filter(email=email).exists()


async def update_user(user: User, data: UserUpdate) -> User:
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    email = changes.pop("email", None)
    if email is not None and email != user.email:
        raise bad_request(
            ErrorCode.EMAIL_CHANGE_NOT_SUPPORTED,
            "the email is your login and cannot be changed here",
        )
    if "display_name" in changes and not changes["display_name"]:
        changes["display_name"] = default_display_name(
            changes.get("first_name", user.first_name), changes.get("last_name", user.last_name)
        )
    if changes:
        await user.update(_columns=list(changes), **changes)
    return user
