"""Magic-link login: mail a link (throttled per address), exchange it once for an access token."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from podium import metrics
from podium.config import Settings
from podium.db import Database, Executor, Transaction
from podium.errors import ApiError, ErrorCode
from podium.models import User
from podium.queries import login_links, login_mails, rows
from podium.queries.rows import as_model
from podium.security import (
    InvalidToken,
    TokenExpired,
    TokenType,
    create_access_token,
    create_token,
    read_token,
)
from podium.services.mail import MailNotConfigured, MailProviderFailed, send_login_link
from podium.services.signup_checks import refuse_disposable


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
    refuse_disposable(email)
    user = await rows.one_by(db, User, "email", email)
    if user is None:
        raise ApiError(404, ErrorCode.USER_NOT_FOUND, "no account uses this email; sign up first")
    lifetime = timedelta(minutes=settings.magic_link_minutes)
    async with db.transaction() as tx:
        slot = await _take_slot(tx, settings, user.email)
        # Under the throttle's lock on the address: links are issued in `created_at` order.
        link_id = await login_links.issue(tx, user.email, lifetime.total_seconds())
    token = create_token(
        user.email, TokenType.MAGIC_LINK, settings.jwt_secret_value, lifetime, jti=str(link_id)
    )
    try:
        await send_login_link(settings, user.email, login_link(settings, token, redirect))
    except MailProviderFailed as exc:
        await login_mails.release(db, slot)
        await login_links.withdraw(db, link_id)
        raise ApiError(
            502,
            ErrorCode.MAIL_PROVIDER_FAILED,
            f"could not send the login email ({exc}); try again",
        ) from None
    except MailNotConfigured as exc:
        await login_mails.release(db, slot)
        await login_links.withdraw(db, link_id)
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
    """An access token and its user for a magic link's token used for the first time; 401 for
    any other token (docs/security.md)."""
    try:
        claims = read_token(token, TokenType.MAGIC_LINK, settings.jwt_secret_value)
    except InvalidToken as exc:
        # The signature is checked before the expiry, so "expired" is only said of our tokens.
        expired = isinstance(exc, TokenExpired)
        raise _invalid_token(
            "the login link has expired; request a new one"
            if expired
            else "the login link is invalid"
        ) from None
    link_id = _link_id(claims.jti)
    if link_id is None:
        # v1's links (in flight at the cutover) have no identity to use up: refused.
        raise _invalid_token("the login link is no longer valid; request a new one")
    email = claims.email.strip().lower()
    row = await login_links.use(db, link_id, email)
    if row is None:
        raise await _unusable_link(db, link_id, email)
    user = as_model(User, row)
    access_token = create_access_token(
        user.email,
        user.seq,
        user.token_generation,
        settings.jwt_secret_value,
        timedelta(minutes=settings.access_token_minutes),
    )
    return access_token, user


def _link_id(jti: str | None) -> uuid.UUID | None:
    try:
        return None if jti is None else uuid.UUID(jti)
    except ValueError:
        return None


async def _unusable_link(db: Executor, link_id: uuid.UUID, email: str) -> ApiError:
    """Why a signed link did not log in (the failure path's one extra read)."""
    state = await login_links.state(db, link_id, email)
    if state is None or state.expired:
        return _invalid_token("the login link is no longer valid; request a new one")
    if not state.has_user:
        return _invalid_token("the login link names no existing account")
    if state.used:
        return ApiError(
            401, ErrorCode.LINK_USED, "this login link was used already; request a new one"
        )
    return ApiError(
        401,
        ErrorCode.LINK_SUPERSEDED,
        "a newer login link was sent to this address; use the latest one",
    )


def _invalid_token(message: str) -> ApiError:
    return ApiError(401, ErrorCode.INVALID_TOKEN, message)
