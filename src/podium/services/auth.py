"""Magic-link login: mail a link (throttled per address), exchange it for an access token."""

from __future__ import annotations

import math
from datetime import timedelta
from urllib.parse import urlencode

import jwt
import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncConnection

from podium.config import Settings
from podium.db import transaction
from podium.errors import ApiError, ErrorCode
from podium.models import User
from podium.security import InvalidToken, TokenType, create_token, read_token
from podium.services.mail import MailNotConfigured, MailProviderFailed, send_login_link

# First key of the two-key advisory lock taken per address (the second is hashtext(email)),
# so these locks cannot collide with advisory locks other modules take on a single key.
LOGIN_MAIL_LOCK_SPACE = 0x4C4D41  # "LMA"

_PRUNE_EXPIRED = sqlalchemy.text(
    "DELETE FROM login_mails"
    " WHERE email = :email AND created_at <= clock_timestamp() - make_interval(secs => :window)"
)
# The oldest mail that still fills the last allowed slot: while it is inside the window, the
# address is at its limit, and it leaves the window after `wait` seconds.
_SLOT_FREED_IN = sqlalchemy.text(
    "SELECT extract(epoch FROM created_at + make_interval(secs => :window) - clock_timestamp())"
    " FROM login_mails"
    " WHERE email = :email AND created_at > clock_timestamp() - make_interval(secs => :window)"
    " ORDER BY created_at DESC OFFSET :slot LIMIT 1"
)
_RECORD_MAIL = sqlalchemy.text(
    "INSERT INTO login_mails (email, created_at) VALUES (:email, clock_timestamp())"
)


def login_link(settings: Settings, token: str, redirect: str | None) -> str:
    query = {"token": token}
    if redirect:
        query["redirect"] = redirect
    return f"{settings.frontend_url.rstrip('/')}/login?{urlencode(query)}"


async def request_login(settings: Settings, email: str, redirect: str | None) -> None:
    """Mail a login link to the user with this (normalised) email, within the throttle."""
    user = await User.objects.get_or_none(email=email)
    if user is None:
        raise ApiError(404, ErrorCode.USER_NOT_FOUND, "no account uses this email; sign up first")
    async with transaction() as conn:
        # Serialise requests for one address (across workers) from the count to the insert.
        await conn.execute(
            sqlalchemy.text("SELECT pg_advisory_xact_lock(:space, hashtext(:email))"),
            {"space": LOGIN_MAIL_LOCK_SPACE, "email": user.email},
        )
        await _check_throttle(conn, settings, user.email)
        token = create_token(
            user.email,
            TokenType.MAGIC_LINK,
            settings.jwt_secret_value,
            timedelta(minutes=settings.magic_link_minutes),
        )
        try:
            await send_login_link(settings, user.email, login_link(settings, token, redirect))
        except MailProviderFailed as exc:
            # Raising rolls the transaction back: a mail that was not sent uses no slot.
            raise ApiError(
                502,
                ErrorCode.MAIL_PROVIDER_FAILED,
                f"could not send the login email ({exc}); try again",
            ) from None
        except MailNotConfigured as exc:
            raise ApiError(
                503, ErrorCode.MAIL_NOT_CONFIGURED, f"login email is not set up: {exc}"
            ) from None
        await conn.execute(_RECORD_MAIL, {"email": user.email})


async def _check_throttle(conn: AsyncConnection, settings: Settings, email: str) -> None:
    window = settings.login_mail_window_seconds
    await conn.execute(_PRUNE_EXPIRED, {"email": email, "window": window})
    # A limit below one would refuse every login; it is read as one.
    slot = max(settings.login_mails_per_window, 1) - 1
    wait = await conn.scalar(_SLOT_FREED_IN, {"email": email, "window": window, "slot": slot})
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429,
            ErrorCode.TOO_MANY_LOGIN_REQUESTS,
            f"too many login emails for this address; try again in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


async def verify_login(settings: Settings, token: str) -> tuple[str, User]:
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
    user = await User.objects.get_or_none(email=email.strip().lower())
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
