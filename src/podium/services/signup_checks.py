"""Checks on who signs up: no disposable addresses, and Cloudflare Turnstile when configured.

Disposable domains come from the `disposable-email-domains` package (upgrade it to update the
list); an address on a subdomain of a listed domain is refused too. Turnstile runs only with
`PODIUM_TURNSTILE_SECRET` set: the browser widget's token comes in the `X-Turnstile-Token`
header and is checked with Cloudflare's siteverify endpoint (`PODIUM_TURNSTILE_VERIFY_URL`).
When siteverify cannot be reached the sign-up is refused (503), or let through with
`PODIUM_TURNSTILE_FAIL_OPEN=true`.
"""

from __future__ import annotations

import logging

import httpx
from disposable_email_domains import blocklist

from podium.config import Settings
from podium.errors import RETRY_AFTER_SECONDS, ApiError, ErrorCode

log = logging.getLogger(__name__)

TURNSTILE_HEADER = "X-Turnstile-Token"
# Turnstile's tokens are at most 2048 characters.
TURNSTILE_TOKEN_MAX_LENGTH = 2048


def is_disposable(email: str) -> bool:
    """Whether the address's domain, or a domain it is under, is a disposable-mail service."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    labels = domain.split(".")
    return any(".".join(labels[start:]) in blocklist for start in range(len(labels) - 1))


def refuse_disposable(email: str) -> None:
    if is_disposable(email):
        raise ApiError(
            422,
            ErrorCode.DISPOSABLE_EMAIL,
            "this email address is from a disposable-mail service; use an address you keep",
        )


def _turnstile_failed(message: str) -> ApiError:
    return ApiError(403, ErrorCode.TURNSTILE_FAILED, message)


async def verify_turnstile(settings: Settings, token: str | None, remote_ip: str | None) -> None:
    """Nothing without a Turnstile secret; else the token must pass siteverify (403 if not)."""
    if settings.turnstile_secret is None:
        return
    if not token:
        raise _turnstile_failed(
            f"sign-up needs the Turnstile check: send its token in the {TURNSTILE_HEADER} header"
        )
    form = {"secret": settings.turnstile_secret.get_secret_value(), "response": token}
    if remote_ip:
        form["remoteip"] = remote_ip
    try:
        async with httpx.AsyncClient(timeout=settings.turnstile_timeout) as http:
            response = await http.post(settings.turnstile_verify_url, data=form)
        response.raise_for_status()
        outcome = response.json()
        success = outcome["success"] if isinstance(outcome, dict) else None
        if not isinstance(success, bool):
            raise ValueError("no boolean `success` in the answer")
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        if settings.turnstile_fail_open:
            log.warning("Turnstile siteverify unusable (%s): sign-up let through (fail open)", exc)
            return
        log.warning("Turnstile siteverify unusable (%s): sign-up refused (fail closed)", exc)
        raise ApiError(
            503,
            ErrorCode.TURNSTILE_UNAVAILABLE,
            "the sign-up check (Turnstile) cannot be reached; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    if not success:
        codes = outcome.get("error-codes") or []
        log.info("Turnstile refused a sign-up: %s", ", ".join(map(str, codes)) or "no reason")
        raise _turnstile_failed("the Turnstile check failed; reload the page and try again")
