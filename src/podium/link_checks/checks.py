"""What a project's links are checked for, and the status and reasons that come out.

- `repo` on github.com: GitHub's REST API (`GET /repos/{owner}/{repo}`) says it exists and is
  public; anywhere else the page must answer like a demo.
- `demo`: answers 2xx (after at most MAX_REDIRECTS redirects) within the time limit.
- a `demo` on itch.io (`itch.io` or `*.itch.io`): also embeds a game playable in the browser
  (PLAYABLE_MARKERS in the page's HTML).

Each problem is a reason `{link, code, severity, message}`; the status is `invalid` if any reason
is, `warning` if any reason is a warning, else `valid`. A failure that may pass (no answer, a
5xx, GitHub's rate limit) is `transient`: the job is tried again later, and only the last
attempt reports it, as a warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from podium.link_checks.fetcher import (
    Fetched,
    Fetcher,
    FetchFailed,
    FetchTimeout,
    TooManyRedirects,
)
from podium.link_checks.guard import LinkRefused

GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
_GITHUB_PATH = re.compile(
    r"^/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/(?P<repo>[A-Za-z0-9._-]{1,100})(?:/.*)?$"
)
# What itch.io puts in the page of a game that runs in the browser: the frame it loads the game
# into (`game_frame`, `iframe_placeholder` before "Run game" is clicked, its button
# `load_iframe_btn`, `game_drop` for games embedded at once) or the HTML5 host the frame points
# at. A downloadable-only page has none of them.
PLAYABLE_MARKERS = (
    "game_frame",
    "iframe_placeholder",
    "load_iframe_btn",
    'id="game_drop"',
    "html-classic.itch.zone",
)


class Severity(StrEnum):
    WARNING = "warning"
    INVALID = "invalid"


class Status(StrEnum):
    PENDING = "pending"
    VALID = "valid"
    WARNING = "warning"
    INVALID = "invalid"


@dataclass(frozen=True)
class Reason:
    link: str  # "repo" or "demo"
    code: str
    severity: Severity
    message: str
    transient: bool = False

    def as_json(self) -> dict[str, str]:
        return {
            "link": self.link,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class Outcome:
    reasons: list[Reason] = field(default_factory=list)

    @property
    def transient(self) -> bool:
        return any(reason.transient for reason in self.reasons)

    @property
    def status(self) -> Status:
        severities = {reason.severity for reason in self.reasons}
        if Severity.INVALID in severities:
            return Status.INVALID
        return Status.WARNING if severities else Status.VALID


@dataclass(frozen=True)
class GitHub:
    api_url: str
    token: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "").lower()


def is_itch_page(url: str) -> bool:
    host = _host(url)
    return host == "itch.io" or host.endswith(".itch.io")


def github_repository(url: str) -> tuple[str, str] | None:
    """(owner, repo) of a github.com repository URL, else None."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in GITHUB_HOSTS:
        return None
    match = _GITHUB_PATH.match(parts.path.rstrip("/") or "/")
    if match is None:
        return None
    return match["owner"], match["repo"].removesuffix(".git")


def _fetch_failure(link: str, exc: Exception) -> Reason:
    """A reason for a fetch that raised (see Fetcher.get)."""
    if isinstance(exc, LinkRefused):
        return Reason(link, "address_refused", Severity.INVALID, f"not checked: {exc}")
    if isinstance(exc, TooManyRedirects):
        return Reason(link, "too_many_redirects", Severity.INVALID, str(exc))
    if isinstance(exc, FetchTimeout):
        return Reason(link, "timeout", Severity.WARNING, str(exc), transient=True)
    return Reason(link, "unreachable", Severity.WARNING, str(exc), transient=True)


FETCH_ERRORS = (LinkRefused, TooManyRedirects, FetchTimeout, FetchFailed)


def _status_reason(link: str, answer: Fetched) -> Reason | None:
    if answer.status < 400:
        return None
    message = f"answers HTTP {answer.status}"
    if answer.status >= 500 or answer.status == 429:
        return Reason(link, "http_error", Severity.WARNING, message, transient=True)
    return Reason(link, "http_error", Severity.INVALID, message)


async def check_page(fetcher: Fetcher, link: str, url: str) -> list[Reason]:
    try:
        answer = await fetcher.get(url)
    except FETCH_ERRORS as exc:
        return [_fetch_failure(link, exc)]
    failed = _status_reason(link, answer)
    if failed is not None:
        return [failed]
    if is_itch_page(answer.url) or is_itch_page(url):
        page = answer.body.decode("utf-8", "replace").lower()
        if not any(marker in page for marker in PLAYABLE_MARKERS):
            return [
                Reason(
                    link,
                    "itch_not_playable",
                    Severity.WARNING,
                    "the itch.io page embeds no game playable in the browser",
                )
            ]
    return []


async def check_github(fetcher: Fetcher, github: GitHub, owner: str, repo: str) -> list[Reason]:
    url = f"{github.api_url.rstrip('/')}/repos/{owner}/{repo}"
    try:
        answer = await fetcher.get(url, headers=github.headers())
    except FETCH_ERRORS as exc:
        reason = _fetch_failure("repo", exc)
        # GitHub's API refused or unreachable says nothing about the repository: retried.
        return [Reason("repo", "github_unavailable", Severity.WARNING, reason.message, True)]
    if answer.status == 404:
        return [
            Reason(
                "repo",
                "repo_not_found",
                Severity.INVALID,
                f"github.com/{owner}/{repo} does not exist or is not public",
            )
        ]
    if answer.status in (403, 429) or answer.status >= 500:
        # 403 with X-RateLimit-Remaining: 0 and 429 are GitHub's rate limit.
        return [
            Reason(
                "repo",
                "github_unavailable",
                Severity.WARNING,
                f"GitHub's API answered HTTP {answer.status}",
                transient=True,
            )
        ]
    if answer.status != 200:
        return [
            Reason(
                "repo",
                "repo_unavailable",
                Severity.INVALID,
                f"GitHub's API answered HTTP {answer.status} for github.com/{owner}/{repo}",
            )
        ]
    try:
        found: Any = json.loads(answer.body)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        return [
            Reason(
                "repo",
                "github_unavailable",
                Severity.WARNING,
                "GitHub's API answered something that is not a repository",
                transient=True,
            )
        ]
    # With a token that can see it, GitHub shows a private repository (without, it is a 404).
    if found.get("private") is True or found.get("visibility") in ("private", "internal"):
        return [
            Reason(
                "repo",
                "repo_private",
                Severity.INVALID,
                f"github.com/{owner}/{repo} is private: judges cannot read it",
            )
        ]
    return []


async def check_links(fetcher: Fetcher, github: GitHub, repo: str, demo: str) -> Outcome:
    """Every check of a project's links; an empty link is not checked."""
    reasons: list[Reason] = []
    if repo:
        repository = github_repository(repo)
        if repository is not None:
            reasons += await check_github(fetcher, github, *repository)
        else:
            reasons += await check_page(fetcher, "repo", repo)
    if demo:
        reasons += await check_page(fetcher, "demo", demo)
    return Outcome(reasons)


def final(outcome: Outcome) -> list[dict[str, str]]:
    """The reasons as stored: transient ones too (the last attempt reports them)."""
    return [reason.as_json() for reason in outcome.reasons]
