"""The cutover smoke test: one pass through what users do, against any running deployment.

Log in with two accounts, create an event, make it votable, attend it, submit a project each,
vote, read the leaderboard, follow a legacy redirect, then delete what the run created. It
touches nothing it did not create (every name carries a timestamp), reports pass/fail per step
and exits non-zero naming the step that failed.

Accounts: in production, two smoke-test accounts, either by access token (`--token-a`/`--token-b`,
or PODIUM_SMOKE_TOKEN_A/B) or by email (`--accounts A B`: short-lived tokens are minted with
PODIUM_JWT_SECRET, which `doppler run` provides); against a development server, `--dev-log PATH`
signs up two throwaway users and reads their login links from that server's log. Those users
stay afterwards: the API has no way to delete a user.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from rich.console import Console
from rich.table import Table

from podium.ids import is_legacy_id
from podium.security import TokenType, create_token

TOKEN_A_ENV = "PODIUM_SMOKE_TOKEN_A"
TOKEN_B_ENV = "PODIUM_SMOKE_TOKEN_B"
JWT_SECRET_ENV = "PODIUM_JWT_SECRET"
# Long enough for one run, short enough that a token in a terminal's scrollback is soon useless.
MINTED_TOKEN_LIFETIME = timedelta(minutes=15)
# What the development server logs instead of mailing (podium.services.mail).
LOGIN_LINK_LINE = re.compile(r"LOGIN LINK for (?P<email>\S+): (?P<link>\S+)")
DEFAULT_TIMEOUT_SECONDS = 15.0
LOGIN_LINK_WAIT_SECONDS = 10.0
# Well-formed record ids no migration produced: one unknown, one that is not a record id at all.
UNKNOWN_LEGACY_ID = "recSmokeTest00000"
MALFORMED_LEGACY_ID = "recNotAnId"
SMOKE_URL = "https://example.com/podium-smoke"


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "FAIL"
    SKIP = "skipped"


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: Outcome
    detail: str
    seconds: float


@dataclass
class SmokeReport:
    base_url: str
    steps: list[StepResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.outcome is Outcome.PASS for step in self.steps)

    @property
    def first_failure(self) -> StepResult | None:
        return next((step for step in self.steps if step.outcome is Outcome.FAIL), None)


@dataclass(frozen=True)
class TokenLogin:
    """Two existing accounts, by access token (production)."""

    token_a: str
    token_b: str


@dataclass(frozen=True)
class DevLogLogin:
    """Two throwaway accounts, signed up now, logged in through links read from the server log."""

    log_path: Path
    wait_seconds: float = LOGIN_LINK_WAIT_SECONDS


Login = TokenLogin | DevLogLogin


class StepFailed(Exception):
    """A step's request failed or its answer was wrong; the message says how."""


@dataclass
class _Account:
    label: str
    token: str | None = None
    email: str | None = None
    user_id: str | None = None
    project_id: str | None = None


def _error_text(response: httpx.Response) -> str:
    """The API's `{"error": {"code", "message"}}` as "code: message", else the body's start."""
    try:
        body = response.json()
        error = body["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().replace("\n", " ")
        return text[:200] or "(empty body)"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def _stamp() -> str:
    """A name part unique to this run: the UTC time to the second, and a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


class SmokeTest:
    """One smoke-test run over `http` (an httpx client whose base URL is the deployment)."""

    def __init__(
        self, http: httpx.AsyncClient, login: Login, *, legacy_id: str | None = None
    ) -> None:
        self.http = http
        self.login = login
        self.legacy_id = legacy_id
        self.stamp = _stamp()
        self.a = _Account("A")
        self.b = _Account("B")
        self.event_id: str | None = None
        self.join_code: str | None = None
        self.report = SmokeReport(base_url=str(http.base_url))

    async def run(self) -> SmokeReport:
        await self._step("API reachable (GET /health)", self._health)
        if isinstance(self.login, DevLogLogin):
            await self._step("sign up two throwaway users", self._sign_up)
        await self._step("log in (accounts A and B)", self._log_in)
        await self._step("create event (A)", self._create_event)
        await self._step("make event votable, leaderboard on (A)", self._make_votable)
        await self._step("attend event by join code (B, then A)", self._attend)
        await self._step("create a project each", self._create_projects)
        await self._step("vote (A for B's project)", self._vote)
        await self._step("read leaderboard", self._leaderboard)
        await self._step("legacy redirect", self._legacy_redirect)
        # Clean-up runs whatever happened above, for whatever was created.
        await self._cleanup("delete projects", self._delete_projects, self._has_projects())
        await self._cleanup("delete event", self._delete_event, self.event_id is not None)
        self._add_notes()
        return self.report

    # -- step plumbing ---------------------------------------------------------------------

    async def _step(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        if self.report.first_failure is not None:
            self._record(name, Outcome.SKIP, "an earlier step failed", 0.0)
            return
        await self._attempt(name, action)

    async def _cleanup(self, name: str, action: Callable[[], Awaitable[str]], due: bool) -> None:
        if not due:
            self._record(name, Outcome.SKIP, "nothing to delete", 0.0)
            return
        await self._attempt(name, action)

    async def _attempt(self, name: str, action: Callable[[], Awaitable[str]]) -> None:
        started = time.monotonic()
        try:
            detail = await action()
        except StepFailed as failure:
            self._record(name, Outcome.FAIL, str(failure), time.monotonic() - started)
        else:
            self._record(name, Outcome.PASS, detail, time.monotonic() - started)

    def _record(self, name: str, outcome: Outcome, detail: str, seconds: float) -> None:
        self.report.steps.append(StepResult(name, outcome, detail, seconds))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        expect: int,
        account: _Account | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {}
        if account is not None:
            assert account.token is not None
            headers["Authorization"] = f"Bearer {account.token}"
        try:
            response = await self.http.request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise StepFailed(f"{method} {path}: no answer ({type(exc).__name__}: {exc})") from None
        if response.status_code != expect:
            who = f" as {account.label}" if account is not None else ""
            raise StepFailed(
                f"{method} {path}{who} answered {response.status_code} "
                f"({_error_text(response)}); expected {expect}"
            )
        return response

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise StepFailed(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code} with a body that is not JSON"
            ) from None

    # -- steps -------------------------------------------------------------------------------

    async def _health(self) -> str:
        body = self._json(await self._call("GET", "/health", expect=200))
        _check(body.get("database") == "ok", f"GET /health says the database is {body!r}")
        return "database ok"

    async def _sign_up(self) -> str:
        for account in (self.a, self.b):
            email = f"smoke-{self.stamp.lower()}-{account.label.lower()}@example.com"
            body = {"email": email, "first_name": "Smoke", "last_name": f"Test {account.label}"}
            user = self._json(await self._call("POST", "/users/", expect=201, json=body))
            _check(user.get("email") == email, f"POST /users/ answered the user {user!r}")
            account.email, account.user_id = email, user["id"]
        return f"{self.a.email}, {self.b.email}"

    async def _log_in(self) -> str:
        if isinstance(self.login, DevLogLogin):
            for account in (self.a, self.b):
                account.token = await self._log_in_by_link(self.login, account)
        else:
            self.a.token, self.b.token = self.login.token_a, self.login.token_b
        for account in (self.a, self.b):
            user = self._json(
                await self._call("GET", "/users/current", expect=200, account=account)
            )
            _check(
                account.user_id in (None, user["id"]),
                f"account {account.label} logged in as {user['id']}, not {account.user_id}",
            )
            account.user_id, account.email = user["id"], user["email"]
        _check(self.a.user_id != self.b.user_id, "tokens A and B name the same user")
        return f"A = {self.a.user_id}, B = {self.b.user_id}"

    async def _log_in_by_link(self, login: DevLogLogin, account: _Account) -> str:
        assert account.email is not None
        await self._call("POST", "/request-login", expect=202, json={"email": account.email})
        link = await _wait_for_login_link(login.log_path, account.email, login.wait_seconds)
        token = parse_qs(urlsplit(link).query).get("token", [""])[0]
        _check(bool(token), f"the login link for {account.email} carries no token: {link}")
        session = self._json(
            await self._call("GET", "/verify", expect=200, params={"token": token})
        )
        _check(
            session.get("token_type") == "bearer" and bool(session.get("access_token")),
            f"GET /verify answered no bearer token: {sorted(session)}",
        )
        access_token: str = session["access_token"]
        return access_token

    async def _create_event(self) -> str:
        body = {
            "name": f"Smoke test {self.stamp}",
            "description": "Created by the cutover smoke test; deleted when it finishes.",
        }
        event = self._json(
            await self._call("POST", "/events/", expect=201, account=self.a, json=body)
        )
        self.event_id, self.join_code = event.get("id"), event.get("join_code")
        _check(bool(self.event_id and self.join_code), f"the new event lacks id/join_code: {event}")
        _check(event.get("owner_id") == self.a.user_id, "the new event is not owned by A")
        return f"event {self.event_id} ({event.get('slug')})"

    async def _make_votable(self) -> str:
        body = {"votable": True, "leaderboard_enabled": True}
        path = f"/events/{self.event_id}"
        event = self._json(await self._call("PUT", path, expect=200, account=self.a, json=body))
        _check(
            event.get("votable") is True and event.get("leaderboard_enabled") is True,
            f"PUT {path} did not switch voting and the leaderboard on: {event}",
        )
        return "votable, leaderboard enabled"

    async def _attend(self) -> str:
        assert self.join_code is not None
        for account in (self.b, self.a):
            event = self._json(
                await self._call(
                    "POST",
                    "/events/attend",
                    expect=200,
                    account=account,
                    params={"join_code": self.join_code.lower()},
                )
            )
            _check(
                event.get("id") == self.event_id,
                f"{account.label} joined {event.get('id')}, not {self.event_id}",
            )
        return f"both joined with code {self.join_code} (sent lower-case)"

    async def _create_projects(self) -> str:
        for account in (self.a, self.b):
            body = {
                "name": f"Smoke project {account.label} {self.stamp}",
                "repo": f"{SMOKE_URL}/repo",
                "image_url": f"{SMOKE_URL}/image.png",
                "demo": f"{SMOKE_URL}/demo",
                "description": "Created by the cutover smoke test.",
                "hours_spent": 1,
                "event": self.event_id,
            }
            project = self._json(
                await self._call("POST", "/projects/", expect=201, account=account, json=body)
            )
            account.project_id = project.get("id")
            _check(bool(account.project_id), f"the new project has no id: {project}")
            _check(
                project.get("event_id") == self.event_id,
                f"project {account.project_id} is in {project.get('event_id')}",
            )
            _check(
                (project.get("owner") or {}).get("id") == account.user_id,
                f"project {account.project_id} is not owned by {account.label}",
            )
        return f"A: {self.a.project_id}, B: {self.b.project_id}"

    async def _vote(self) -> str:
        body = {"event": self.event_id, "projects": [self.b.project_id]}
        cast = self._json(
            await self._call("POST", "/events/vote", expect=201, account=self.a, json=body)
        )
        votes = cast.get("votes") or []
        _check(
            [vote.get("project_id") for vote in votes] == [self.b.project_id],
            f"POST /events/vote stored {votes}, not one vote for {self.b.project_id}",
        )
        return f"vote {votes[0].get('id')}, {cast.get('votes_remaining')} remaining"

    async def _leaderboard(self) -> str:
        path = f"/events/{self.event_id}/projects"
        ranked = self._json(
            await self._call(
                "GET", path, expect=200, account=self.a, params={"leaderboard": "true"}
            )
        )
        standings = [(project.get("id"), project.get("points")) for project in ranked]
        expected = [(self.b.project_id, 1), (self.a.project_id, 0)]
        _check(standings == expected, f"leaderboard is {standings}, expected {expected}")
        return f"B's project first with 1 point, A's with 0 ({len(ranked)} projects)"

    async def _legacy_redirect(self) -> str:
        if self.legacy_id is not None:
            path = f"/legacy/{self.legacy_id}"
            response = await self._call("GET", path, expect=308)
            location = response.headers.get("location", "")
            _check(bool(location), f"GET {path} redirected nowhere (no Location header)")
            await self._call("GET", location, expect=200)
            return f"{self.legacy_id} → {location} → 200"
        for record_id in (UNKNOWN_LEGACY_ID, MALFORMED_LEGACY_ID):
            path = f"/legacy/{record_id}"
            response = await self._call("GET", path, expect=404)
            _check(
                _error_text(response).startswith("not_found:"),
                f"GET {path} answered 404 without the API's error shape: {response.text[:200]}",
            )
        return "unknown and malformed record ids answer 404 (pass --legacy-id to follow one)"

    # -- clean-up ------------------------------------------------------------------------------

    def _has_projects(self) -> bool:
        return any(account.project_id for account in (self.a, self.b))

    async def _delete_projects(self) -> str:
        deleted = []
        for account in (self.a, self.b):
            if account.project_id is None:
                continue
            await self._call(
                "DELETE", f"/projects/{account.project_id}", expect=204, account=account
            )
            deleted.append(account.project_id)
            account.project_id = None
        return ", ".join(deleted)

    async def _delete_event(self) -> str:
        path = f"/events/{self.event_id}"
        await self._call("DELETE", path, expect=204, account=self.a)
        await self._call("GET", path, expect=404)
        deleted, self.event_id = self.event_id, None
        # The event took its attendees, votes and any project left with it.
        for account in (self.a, self.b):
            account.project_id = None
        return f"{deleted} (now 404)"

    def _add_notes(self) -> None:
        notes = self.report.notes
        if self.event_id is not None:
            notes.append(
                f"LEFT BEHIND: event {self.event_id}; delete it as account A: "
                f"DELETE /events/{self.event_id}"
            )
        for account in (self.a, self.b):
            if account.project_id is not None:
                notes.append(
                    f"LEFT BEHIND: project {account.project_id}; delete it as account "
                    f"{account.label}: DELETE /projects/{account.project_id}"
                )
        if isinstance(self.login, DevLogLogin) and self.a.email is not None:
            created = ", ".join(a.email for a in (self.a, self.b) if a.email)
            notes.append(f"throwaway users stay (the API cannot delete users): {created}")


async def _wait_for_login_link(log_path: Path, email: str, wait_seconds: float) -> str:
    """The newest login link logged for `email`, waiting for it to appear."""
    deadline = time.monotonic() + wait_seconds
    while True:
        link = _last_login_link(log_path, email)
        if link is not None:
            return link
        if time.monotonic() > deadline:
            raise StepFailed(
                f"no 'LOGIN LINK for {email}' line in {log_path} after {wait_seconds:.0f} s "
                "(is this the log of the server under test, and is mail unconfigured there?)"
            )
        await asyncio.sleep(0.1)


def _last_login_link(log_path: Path, email: str) -> str | None:
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return None
    links = [
        match["link"]
        for match in LOGIN_LINK_LINE.finditer(text)
        if match["email"].lower() == email.lower()
    ]
    return links[-1] if links else None


async def run_smoke_test(
    base_url: str,
    login: Login,
    *,
    legacy_id: str | None = None,
    request_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SmokeReport:
    """Run every step against `base_url` (or `transport`, e.g. an in-process app)."""
    async with httpx.AsyncClient(
        base_url=base_url, timeout=request_seconds, transport=transport, follow_redirects=False
    ) as http:
        return await SmokeTest(http, login, legacy_id=legacy_id).run()


def render(report: SmokeReport, console: Console) -> None:
    table = Table(title=f"Smoke test of {report.base_url}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("detail", overflow="fold")
    styles = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.SKIP: "yellow"}
    for number, step in enumerate(report.steps, 1):
        table.add_row(
            str(number),
            step.name,
            f"[{styles[step.outcome]}]{step.outcome}[/]",
            f"{step.seconds:.2f} s",
            step.detail,
        )
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}")
    failure = report.first_failure
    if failure is None and report.passed:
        console.print("[bold green]SMOKE TEST PASSED[/]")
    elif failure is not None:
        console.print(f"[bold red]SMOKE TEST FAILED at step '{failure.name}':[/] {failure.detail}")
    else:
        console.print("[bold red]SMOKE TEST FAILED[/]")


def mint_access_token(email: str, secret: str) -> str:
    """An access token for `email`, as GET /verify would issue, valid for a few minutes."""
    return create_token(email.strip().lower(), TokenType.ACCESS, secret, MINTED_TOKEN_LIFETIME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoke_test.py",
        description="Smoke-test a Podium v2 deployment: log in, create an event, vote, read "
        "the leaderboard, follow a legacy redirect, then delete what it created.",
    )
    parser.add_argument("base_url", help="the deployment, e.g. https://podium.example.org")
    parser.add_argument(
        "--token-a",
        default=os.environ.get(TOKEN_A_ENV),
        help=f"access token of smoke-test account A (default: ${TOKEN_A_ENV})",
    )
    parser.add_argument(
        "--token-b",
        default=os.environ.get(TOKEN_B_ENV),
        help=f"access token of smoke-test account B (default: ${TOKEN_B_ENV})",
    )
    parser.add_argument(
        "--accounts",
        nargs=2,
        metavar=("EMAIL_A", "EMAIL_B"),
        help=f"emails of the two smoke-test accounts; tokens are minted with ${JWT_SECRET_ENV}",
    )
    parser.add_argument(
        "--dev-log",
        type=Path,
        help="development server only: sign up two throwaway users and read their login "
        "links from this log file",
    )
    parser.add_argument(
        "--legacy-id",
        help="a migrated v1 record id (rec…) whose /legacy redirect to follow",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for each answer",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    login: Login
    if args.dev_log is not None:
        login = DevLogLogin(args.dev_log)
    elif args.accounts is not None:
        secret = os.environ.get(JWT_SECRET_ENV)
        if not secret:
            parser.error(f"--accounts needs ${JWT_SECRET_ENV} (run it under `doppler run --`)")
        login = TokenLogin(*(mint_access_token(email, secret) for email in args.accounts))
    elif args.token_a and args.token_b:
        login = TokenLogin(args.token_a, args.token_b)
    else:
        parser.error(
            f"give --accounts EMAIL_A EMAIL_B, or --token-a and --token-b (or "
            f"${TOKEN_A_ENV}/${TOKEN_B_ENV}), or --dev-log PATH against a development server"
        )
    if args.legacy_id is not None and not is_legacy_id(args.legacy_id):
        parser.error(f"--legacy-id {args.legacy_id!r} is not a v1 record id (rec + 14 characters)")
    report = asyncio.run(
        run_smoke_test(
            args.base_url.rstrip("/"), login, legacy_id=args.legacy_id, request_seconds=args.timeout
        )
    )
    render(report, Console(width=max(Console().width, 120)))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
