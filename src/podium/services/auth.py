"""Magic-link login: mail a link (throttled per address), exchange it for an access token."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import jwt

from podium import metrics
from podium.config import Settings
from podium.db import Database, Executor, Transaction
from podium.errors import ApiError, ErrorCode
from podium.models import User
from podium.queries import login_mails, rows
from podium.security import InvalidToken, TokenType, create_token, read_token
from podium.services.mail import MailNotConfigured, MailProviderFailed, send_login_link


def login_link(settings: Settings, token: str, redirect: str | None) -> str:
    query = {"token": token}
    if redirect:
        query["redirect"] = redirect
    return f"{settings.frontend_url.rstrip('/')}/login?{urlencode(query)}"


async def request_login(db: Database, settings: Settings, email: str, redirect: str | None) -> None:
    """Mail a login link to the user with this (normalised) email, within the throttle.

    The slot is taken in a short transaction of its own and the mail sent after it commits,
    with no transaction or lock held (a slow provider must not hold database connections);
    a mail that was not sent gives its slot back.
    """
    user = await rows.one_by(db, User, "email", email)
    if user is None:
        raise ApiError(404, ErrorCode.USER_NOT_FOUND, "no account uses this email; sign up first")
    async with db.transaction() as tx:
        slot = await _take_slot(tx, settings, user.email)
    token = create_token(
        user.email,
        TokenType.MAGIC_LINK,
        settings.jwt_secret_value,
        timedelta(minutes=settings.magic_link_minutes),
    )
    try:
        await send_login_link(settings, user.email, login_link(settings, token, redirect))
    except MailProviderFailed as exc:
        await login_mails.release(db, slot)
        raise ApiError(
            502,
            ErrorCode.MAIL_PROVIDER_FAILED,
            f"could not send the login email ({exc}); try again",
        ) from None
    except MailNotConfigured as exc:
        await login_mails.release(db, slot)
        raise ApiError(
            503, ErrorCode.MAIL_NOT_CONFIGURED, f"login email is not set up: {exc}"
        ) from None
    metrics.LOGIN_MAILS_SENT.inc()


async def _take_slot(tx: Transaction, settings: Settings, email: str) -> uuid.UUID:
    """Count the address's mails in the window and take the next slot, or raise 429."""
    # Serialise requests for one address (across workers) from the count to the insert.
    await login_mails.lock_address(tx, email)
    await _check_throttle(tx, settings, email)
    return await login_mails.record(tx, email)


async def _check_throttle(tx: Transaction, settings: Settings, email: str) -> None:
    window = settings.login_mail_window_seconds
    await login_mails.prune_expired(tx, email, window)
    # A limit below one would refuse every login; it is read as one.
    slot = max(settings.login_mails_per_window, 1) - 1
    wait = await login_mails.slot_freed_in(tx, email, window, slot)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429,
            ErrorCode.TOO_MANY_LOGIN_REQUESTS,
            f"too many login emails for this address; try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


async def verify_login(db: Executor, settings: Settings, token: str) -> tuple[str, User]:
    """An access token and its user for a valid magic-link token; 401 for any other token."""
    try:
        email = read_token(token, TokenType.MAGIC_LINK, settings.jwt_secret_value)
    except InvalidToken as exc:
        # The signature is checked before the expiry, so "expired" is only said of our tokens.
        expired = isinstance(exc.__cause__, jwt.ExpiredSignatureError)
        raise _invalid_token(
            "the login link has expired; request a new one"
            if expired
            else "the login link is invalid"
        ) from None
    user = await rows.one_by(db, User, "email", email.strip().lower())
    if user is None:
        raise _invalid_token("the login link names no existing account")
    access_token = create_token(
        user.email,
        TokenType.ACCESS,
        settings.jwt_secret_value,
        timedelta(minutes=settings.access_token_minutes),
    )
    return access_token, user


def _invalid_token(message: str) -> ApiError:
    return ApiError(401, ErrorCode.INVALID_TOKEN, message)
