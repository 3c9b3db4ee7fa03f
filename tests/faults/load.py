"""A steady mix of reads and votes against a live API, every answer recorded, for the fault
tests; and the checks they make of the answers and of the votes stored.

Each client is a keep-alive connection of its own; each voter votes for one project per request,
one request after another, until one past the event's limit. A pair (voter, project) is asked
for once, so the votes stored can be compared with the answers one for one.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import httpx
from benchmarks.loadbench.seed import SeededEvent

from podium.ids import Entity
from podium.public_ids import public_id
from podium.security import TokenType, create_token
from tests.conftest import TEST_JWT_SECRET

CLIENT_TIMEOUT_SECONDS = 30
TOKEN_LIFETIME = timedelta(hours=1)
# A client pauses this long between requests, so two cores keep up with the database's faults
# rather than with the load.
THINK_SECONDS = 0.005


@dataclass(frozen=True)
class Answer:
    started: float
    ended: float
    kind: str  # "vote" or "read"
    status: int | None  # None: no HTTP answer (a transport error)
    code: str | None = None
    retry_after: str | None = None
    content_type: str | None = None
    transport_error: str | None = None
    vote: tuple[str, int] | None = None  # (voter email, project seq)

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 500


@dataclass
class Load:
    base: str
    event: SeededEvent
    vote_limit: int
    clients: int
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ballots = self._all_ballots()

    def _all_ballots(self) -> Iterator[tuple[str, list[int]]]:
        for email in self.event.non_voters:
            own = self.event.own_projects.get(email, set())
            choices = [seq for seq in self.event.project_seqs if seq not in own]
            yield email, choices[: self.vote_limit + 1]

    async def __aenter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(self.clients)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _client(self) -> None:
        event_id = public_id(Entity.EVENT, self.event.seq)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=self.base, limits=limits, timeout=CLIENT_TIMEOUT_SECONDS
        ) as http:
            reads = itertools.cycle([f"/events/{event_id}", f"/events/{event_id}/projects"])
            while not self._stop.is_set():
                ballot = next(self._ballots, None)
                if ballot is None:
                    return
                email, choices = ballot
                token = create_token(email, TokenType.ACCESS, TEST_JWT_SECRET, TOKEN_LIFETIME)
                headers = {"Authorization": f"Bearer {token}"}
                for seq in choices:
                    if self._stop.is_set():
                        return
                    body = {"event": event_id, "projects": [public_id(Entity.PROJECT, seq)]}
                    await self._ask(
                        http, "vote", "POST", "/events/vote", headers, body, (email, seq)
                    )
                    await self._ask(http, "read", "GET", next(reads), {}, None, None)
                    await asyncio.sleep(THINK_SECONDS)

    async def _ask(
        self,
        http: httpx.AsyncClient,
        kind: str,
        method: str,
        path: str,
        headers: dict[str, str],
        body: object,
        vote: tuple[str, int] | None,
    ) -> None:
        started = time.monotonic()
        try:
            response = await http.request(method, path, headers=headers, json=body)
        except httpx.TransportError as exc:
            self.answers.append(
                Answer(started, time.monotonic(), kind, None, transport_error=repr(exc), vote=vote)
            )
            return
        code = None
        if response.status_code >= 400:
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "(not the JSON error body)"
        self.answers.append(
            Answer(
                started,
                time.monotonic(),
                kind,
                response.status_code,
                code,
                response.headers.get("retry-after"),
                response.headers.get("content-type"),
                vote=vote,
            )
        )


def recovery_seconds(answers: list[Answer], back: float) -> float:
    """From `back` (the database answering again) to the end of the first request sent after it
    that succeeded."""
    ends = [a.ended for a in answers if a.started >= back and a.ok]
    assert ends, "no request succeeded after the database was back"
    return min(ends) - back


def last_failure_after(answers: list[Answer], back: float) -> float:
    """Seconds from `back` to the start of the last request that failed (0: none did)."""
    starts = [a.started - back for a in answers if a.started >= back and not a.ok]
    return max(starts, default=0.0)


def summary(answers: list[Answer]) -> str:
    counts: dict[str, int] = {}
    for answer in answers:
        key = f"{answer.kind} {answer.status or 'transport error'}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))


def assert_clean_answers(answers: list[Answer]) -> None:
    """No 500s, no dropped connections; every 503 has Retry-After and the JSON error body."""
    assert answers, "the load sent nothing"
    transport = [a.transport_error for a in answers if a.status is None]
    assert not transport, f"{len(transport)} requests got no answer: {transport[:3]}"
    others = [a for a in answers if a.status is not None and a.status >= 500 and a.status != 503]
    assert not others, f"{len(others)} answers 5xx other than 503: {others[:3]}"
    for answer in answers:
        if answer.status == 503:
            assert answer.retry_after is not None, answer
            assert answer.content_type == "application/json", answer
            assert answer.code in ("database_unavailable", "request_timeout"), answer
        elif answer.kind == "vote":
            assert answer.status in (201, 400), answer
            assert answer.status == 201 or answer.code == "vote_limit_exceeded", answer


async def connect_when_free(database_url: str, wait: float = 10.0) -> asyncpg.Connection:
    """A connection, once the server has a slot free (after a `max_connections` test the app's
    idle connections take their idle timeout to go)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return await asyncpg.connect(database_url)
        except asyncpg.TooManyConnectionsError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def assert_votes_match_answers(
    database_url: str, event: SeededEvent, answers: list[Answer], vote_limit: int
) -> None:
    """Nobody above the limit, every 201 stored, nothing stored for a 503 (or any refusal)."""
    conn = await connect_when_free(database_url)
    try:
        rows = await conn.fetch(
            "SELECT u.email, p.seq FROM votes v JOIN users u ON u.id = v.voter_id"
            " JOIN projects p ON p.id = v.project_id WHERE v.event_id = $1",
            event.id,
        )
    finally:
        await conn.close()
    stored = {(row["email"], row["seq"]) for row in rows}
    per_voter: dict[str, int] = {}
    for email, _ in stored:
        per_voter[email] = per_voter.get(email, 0) + 1
    assert max(per_voter.values(), default=0) <= vote_limit
    accepted = {a.vote for a in answers if a.kind == "vote" and a.status == 201}
    refused = {a.vote for a in answers if a.kind == "vote" and a.status != 201}
    assert accepted <= stored, f"201 but not stored: {sorted(accepted - stored)[:5]}"
    assert not (refused & stored), f"refused but stored: {sorted(refused & stored)[:5]}"
    assert stored <= accepted, f"stored without a 201: {sorted(stored - accepted)[:5]}"
