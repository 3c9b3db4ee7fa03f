"""Outgoing mail: the login link, through the Loops transactional API or (development) the log."""

from __future__ import annotations

import logging

import httpx

from podium.config import Settings

log = logging.getLogger(__name__)

# Long enough for a slow provider, short enough that a hung one cannot pin a worker.
LOOPS_TIMEOUT_SECONDS = 10.0
LOOPS_TRANSACTIONAL_PATH = "/api/v1/transactional"


class MailNotConfigured(Exception):
    """Loops is half configured (an API key without a transactional email id)."""


class MailProviderFailed(Exception):
    """The mail provider refused the message, failed, or did not answer in time."""


async def send_login_link(settings: Settings, email: str, link: str) -> None:
    """Mail `link` to `email`; without a Loops API key, log it instead (development)."""
    if settings.loops_api_key is None:
        # The cutover smoke test greps for this exact line; keep its shape.
        log.warning("LOGIN LINK for %s: %s", email, link)
        return
    if not settings.loops_transactional_id:
        raise MailNotConfigured("PODIUM_LOOPS_TRANSACTIONAL_ID is not set")
    url = settings.loops_api_url.rstrip("/") + LOOPS_TRANSACTIONAL_PATH
    payload = {
        "transactionalId": settings.loops_transactional_id,
        "email": email,
        "dataVariables": {"auth_link": link},
    }
    headers = {"Authorization": f"Bearer {settings.loops_api_key.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(timeout=LOOPS_TIMEOUT_SECONDS) as http:
            response = await http.post(url, json=payload, headers=headers)
    except httpx.TimeoutException:
        log.error("Loops did not answer within %ss", LOOPS_TIMEOUT_SECONDS)
        raise MailProviderFailed("the mail provider did not answer in time") from None
    except httpx.HTTPError as exc:
        log.error("Loops unreachable: %s", type(exc).__name__)
        raise MailProviderFailed("the mail provider could not be reached") from None
    if not response.is_success:
        # The body names the cause (bad key, unknown transactional id); it holds no secret.
        log.error("Loops answered %s: %s", response.status_code, response.text[:500])
        raise MailProviderFailed(f"the mail provider answered {response.status_code}")
