"""Accounts: sign-up, lookup by email, profile updates."""

from __future__ import annotations

from typing import Any

from podium.db import Executor, Transaction, violation
from podium.errors import ApiError, ErrorCode, bad_request, conflict, not_found
from podium.ids import Entity
from podium.models import User
from podium.models.constraints import Constraint
from podium.public_ids import public_id
from podium.queries import IntegrityError, login_links, rows
from podium.queries import users as user_rows
from podium.schemas.users import UserCreate, UserUpdate


def default_display_name(first_name: str, last_name: str) -> str:
    """First name and last initial ("Ada L."), or the first name alone."""
    return f"{first_name} {last_name[0]}." if last_name else first_name


def _email_taken() -> ApiError:
    return conflict(
        ErrorCode.EMAIL_TAKEN, "an account with this email already exists; log in instead"
    )


async def create_user(tx: Transaction, data: UserCreate) -> User:
    fields = data.model_dump()
    if not fields["display_name"]:
        fields["display_name"] = default_display_name(data.first_name, data.last_name)
    try:
        return await rows.create(tx, User, fields)
    except IntegrityError as exc:
        # The unique index decides, so concurrent sign-ups for one address get exactly one 201.
        if violation(exc).constraint == Constraint.USERS_EMAIL:
            raise _email_taken() from None
        raise


async def delete_account(tx: Transaction, user: User) -> None:
    """Delete the account in one transaction (docs/security.md): 409 `owns_events`
    while it owns events; its team projects pass to their first collaborator, its other
    projects, votes, attendances, collaborations, referrals and login links go. Its tokens end
    with it: each names the account's `uid`, or predates any account made later with the email.
    """
    if not await user_rows.lock(tx, user.pk):
        return  # deleted by a request that ran meanwhile
    owned = await user_rows.owned_events(tx, user.pk)
    if owned:
        names = ", ".join(public_id(Entity.EVENT, seq) for seq, _ in owned)
        raise ApiError(
            409,
            ErrorCode.OWNS_EVENTS,
            f"the account owns events ({names}); delete them first",
            details=[
                {"event_id": public_id(Entity.EVENT, seq), "name": name} for seq, name in owned
            ],
        )
    await login_links.forget_address(tx, user.email)
    await user_rows.delete_account(tx, user.pk)


async def email_exists(db: Executor, email: str) -> bool:
    return await user_rows.email_exists(db, email)


async def update_user(tx: Transaction, user: User, data: UserUpdate) -> User:
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
    if not changes:
        return user
    updated = await rows.change(tx, User, user.pk, changes)
    if updated is None:
        raise not_found("user")  # the account was deleted since the request began
    return updated
