"""The app through Debian's PgBouncer 1.18 in transaction pooling answers exactly as it does on
PostgreSQL itself, under concurrency, with fewer server connections than clients.

Two apps on one test database: one straight on the server, one through a PgBouncer of
`SERVER_CONNECTIONS` server connections. Phase one: pairs of voters, one per app, cast the same
votes in the same order (each voter's votes one after another, all pairs at once), while every
pair also reads users, an event, its project list and projects that no vote changes; every answer
of one app is compared with the other's. Phase two, once nothing writes: the leaderboards, the
admin's vote lists and the project pages with points, read through both at once. Then the
votes are checked in SQL. Marked `pgbouncer` (needs Debian's `pgbouncer`): `.ci/run` runs it.

With a PgBouncer >= 1.21 (`PODIUM_TEST_PGBOUNCER_BIN`, `devtools/build-pgbouncer.sh`) the same
run goes once more through it with `max_prepared_statements` and the app at
`PODIUM_DATABASE_PGBOUNCER=off`, as it runs on PostgreSQL itself (named prepared statements).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from podium.app import create_app
from podium.config import PgBouncerMode, Settings
from podium.db import Database
from podium.ids import Entity
from podium.public_ids import public_id
from podium.services.join_codes import new_join_code
from podium_devtools.pgbouncer import BINARY_VARIABLE, PgBouncer, tracks_prepared_statements
from tests.conftest import access_token, app_settings

pytestmark = pytest.mark.pgbouncer

# PgBouncer's server connections: far fewer than the app's pool and the concurrent clients.
SERVER_CONNECTIONS = 3
APP_POOL_SIZE = 20
PAIRS = 40  # voter pairs, each a client of both apps at once
PROJECTS = 24  # an event of >= 20 projects allows 3 votes per attendee
READS_PER_STEP = 4
ROUNDS = 2  # phase two: how many times every pair reads every static view
MAX_PREPARED_STATEMENTS = 200


@dataclass(frozen=True)
class World:
    voting_event: str
    reading_event: str
    reading_slug: str
    owner_email: str
    voting_projects: list[str]
    reading_projects: list[str]
    users: list[str]  # public IDs of everyone
    voters: list[tuple[str, str, uuid.UUID, uuid.UUID]]  # (email on direct, on bounced, ids)


async def _users(db: asyncpg.Pool, count: int, tag: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "INSERT INTO users (email, first_name, last_name, display_name) "
        "SELECT 'pgb-' || $2 || '-' || n || '@example.com', 'User' || n, 'Bouncer', "
        "'User ' || n FROM generate_series(1, $1) AS n RETURNING id, seq, email",
        count,
        tag,
    )


async def _event(db: asyncpg.Pool, owner: uuid.UUID, *, votable: bool) -> asyncpg.Record:
    return await db.fetchrow(
        "INSERT INTO events (name, slug, join_code, owner_id, phase, description) "
        "VALUES ('Bounce', $1, $2, $3, $4, 'through pgbouncer') RETURNING id, seq, slug",
        f"bounce-{secrets.token_hex(4)}",
        new_join_code(),
        owner,
        # v1's votable is the voting phase (podium.models.phase).
        "voting" if votable else "submission",
    )


async def _projects(db: asyncpg.Pool, event: uuid.UUID, makers: list[uuid.UUID]) -> list[str]:
    rows = await db.fetch(
        "INSERT INTO projects (name, join_code, owner_id, event_id, description, hours_spent) "
        "SELECT 'Project ' || n, code, maker, $1, 'made by ' || maker, n "
        "FROM unnest($2::text[], $3::uuid[]) WITH ORDINALITY AS c(code, maker, n) "
        "RETURNING seq",
        event,
        [new_join_code() for _ in makers],
        makers,
    )
    return [public_id(Entity.PROJECT, row["seq"]) for row in rows]


async def arrange(db: asyncpg.Pool) -> World:
    tag = secrets.token_hex(3)
    (owner,) = await _users(db, 1, tag + "o")
    makers = await _users(db, PROJECTS, tag + "m")
    voters = await _users(db, 2 * PAIRS, tag + "v")
    voting = await _event(db, owner["id"], votable=True)
    reading = await _event(db, owner["id"], votable=False)
    attendees = [row["id"] for row in [*makers, *voters]]
    for event in (voting, reading):
        await db.executemany(
            "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)",
            [(event["id"], user) for user in attendees],
        )
    maker_ids = [row["id"] for row in makers]
    return World(
        voting_event=public_id(Entity.EVENT, voting["seq"]),
        reading_event=public_id(Entity.EVENT, reading["seq"]),
        reading_slug=reading["slug"],
        owner_email=owner["email"],
        voting_projects=await _projects(db, voting["id"], maker_ids),
        reading_projects=await _projects(db, reading["id"], maker_ids),
        users=[public_id(Entity.USER, row["seq"]) for row in [owner, *makers, *voters]],
        voters=[
            (a["email"], b["email"], a["id"], b["id"])
            for a, b in zip(voters[::2], voters[1::2], strict=True)
        ],
    )


def _settings(url: str, pgbouncer: PgBouncerMode) -> Settings:
    return app_settings(url, pgbouncer, APP_POOL_SIZE)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # A 500 is an answer to count, not an exception to stop at.
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, application.state.database


@pytest.fixture(scope="module")
def bouncer(database_url: str) -> Iterator[PgBouncer]:
    server = make_url(database_url).set(drivername="postgresql", database="postgres")
    with PgBouncer.start(
        server.render_as_string(hide_password=False),
        pool_size=SERVER_CONNECTIONS,
        # So the control's app at `off` connects (it sends statement_timeout at connect, which
        # PgBouncer refuses otherwise) and meets the named statements' failure, not that one.
        ignore_startup_parameters=("statement_timeout",),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def tracking_bouncer(database_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer >= 1.21 tracking prepared statements, in transaction pooling."""
    if not tracks_prepared_statements():
        pytest.skip(f"needs PgBouncer >= 1.21: set {BINARY_VARIABLE} (devtools/build-pgbouncer.sh)")
    server = make_url(database_url).set(drivername="postgresql", database="postgres")
    with PgBouncer.start(
        server.render_as_string(hide_password=False),
        pool_size=SERVER_CONNECTIONS,
        max_prepared_statements=MAX_PREPARED_STATEMENTS,
        # `off` sends statement_timeout at connect; PgBouncer refuses it unless told to ignore it.
        ignore_startup_parameters=("statement_timeout",),
    ) as running:
        yield running


def _bounced_url(bouncer: PgBouncer, database_url: str) -> str:
    return bouncer.url(make_url(database_url).database or "")


# What differs by design between two apps' answers to the same votes: the new votes' IDs and
# times (one sequence, two voters); everything else must be equal.
_VOTE_ID = re.compile(r'"(id|created_at)":"[^"]*"')


@dataclass
class Tally:
    compared: int = 0
    wrong: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wrong_statuses: dict[int, int] = field(default_factory=dict)  # through PgBouncer


def _answer(response: httpx.Response, *, normalise_votes: bool = False) -> tuple[Any, ...]:
    body = response.text
    if normalise_votes:
        body = _VOTE_ID.sub(r'"\1":"…"', body)
    elif _is_shuffled(response):
        # The public project list is shuffled at every request, by design: compare its items.
        items = sorted(response.json(), key=lambda item: str(item["id"]))
        body = json.dumps(items, sort_keys=True)
    return response.status_code, response.headers.get("etag"), body


def _is_shuffled(response: httpx.Response) -> bool:
    url = response.request.url
    return (
        response.status_code == 200
        and url.path.endswith("/projects")
        and url.params.get("leaderboard") != "true"
    )


async def compare(
    tally: Tally,
    label: str,
    direct: Awaitable[httpx.Response],
    bounced: Awaitable[httpx.Response],
    *,
    normalise_votes: bool = False,
) -> tuple[httpx.Response, httpx.Response]:
    first, second = await asyncio.gather(direct, bounced)
    tally.compared += 1
    for response in (first, second):
        tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
    expected = _answer(first, normalise_votes=normalise_votes)
    got = _answer(second, normalise_votes=normalise_votes)
    if expected != got:
        tally.wrong_statuses[got[0]] = tally.wrong_statuses.get(got[0], 0) + 1
        tally.wrong.append(
            f"{label}: direct {expected[:2]} {expected[2][:200]!r}, "
            f"through PgBouncer {got[:2]} {got[2][:200]!r}"
        )
    return first, second


def _headers(email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token(email)}"}


def _static_reads(world: World, pair: int) -> list[tuple[str, str, str | None]]:
    """(label, path, email of the caller or None): reads no vote of this test changes."""
    users = world.users
    return [
        ("user", f"/users/{users[(pair * 7) % len(users)]}", None),
        ("event page", f"/events/{world.reading_event}", None),
        ("event by slug", f"/events/id/{world.reading_slug}", None),
        ("project list", f"/events/{world.reading_event}/projects", None),
        ("project", f"/projects/{world.reading_projects[pair % PROJECTS]}", None),
        ("current user", "/users/current", world.voters[pair][0]),
        ("unknown user", f"/users/{public_id(Entity.USER, 10**9 + pair)}", None),
    ]


def _vote_steps(world: World, pair: int) -> list[list[str]]:
    """One voter's votes in order: 1 and 2 accepted, then one over the limit of 3, then one
    already cast, then an unknown project."""
    projects = world.voting_projects
    pick = [projects[(pair + k) % PROJECTS] for k in range(5)]
    unknown = public_id(Entity.PROJECT, 10**9 + pair)
    return [[pick[0]], [pick[1], pick[2]], [pick[3]], [pick[0]], [unknown]]


async def phase_one(
    world: World, direct: httpx.AsyncClient, bounced: httpx.AsyncClient, tally: Tally
) -> None:
    async def pair(index: int) -> None:
        direct_voter, bounced_voter, _, _ = world.voters[index]
        reads = _static_reads(world, index)
        for step, projects in enumerate(_vote_steps(world, index)):
            body = {"event": world.voting_event, "projects": projects}
            await compare(
                tally,
                f"pair {index} vote {step}",
                direct.post("/events/vote", json=body, headers=_headers(direct_voter)),
                bounced.post("/events/vote", json=body, headers=_headers(bounced_voter)),
                normalise_votes=True,
            )
            for offset in range(READS_PER_STEP):
                label, path, email = reads[(step * READS_PER_STEP + offset) % len(reads)]
                headers = _headers(email) if email else {}
                await compare(
                    tally,
                    f"pair {index} {label} {path}",
                    direct.get(path, headers=headers),
                    bounced.get(path, headers=headers),
                )

    await asyncio.gather(*(pair(index) for index in range(PAIRS)))


async def phase_two(
    world: World, direct: httpx.AsyncClient, bounced: httpx.AsyncClient, tally: Tally
) -> None:
    owner = _headers(world.owner_email)
    event = world.voting_event
    views = [
        ("leaderboard", f"/events/{event}/projects?leaderboard=true", {}),
        ("project list", f"/events/{event}/projects", {}),
        ("admin leaderboard", f"/events/admin/{event}/leaderboard", owner),
        ("admin votes", f"/events/admin/{event}/votes?limit=200", owner),
        ("admin attendees", f"/events/admin/{event}/attendees?limit=37", owner),
        ("admin event", f"/events/admin/{event}", owner),
        *[("project", f"/projects/{project}", {}) for project in world.voting_projects[:6]],
    ]

    async def reader(index: int) -> None:
        for round_ in range(ROUNDS):
            label, path, headers = views[(index + round_) % len(views)]
            await compare(
                tally,
                f"reader {index} {label}",
                direct.get(path, headers=headers),
                bounced.get(path, headers=headers),
            )

    await asyncio.gather(*(reader(index) for index in range(PAIRS * 2)))


async def check_votes(db: asyncpg.Pool, world: World) -> None:
    """Every voter, whichever app it voted through, has its 1 + 2 accepted votes, no more."""
    rows = await db.fetch("SELECT voter_id, count(*) AS votes FROM votes GROUP BY voter_id")
    counts = {row["voter_id"]: row["votes"] for row in rows}
    expected = {voter: 3 for _, _, *pair in world.voters for voter in pair}
    assert counts == expected


async def run_comparison(
    db: asyncpg.Pool, database_url: str, bounced_url: str, pgbouncer: PgBouncerMode
) -> tuple[World, Tally, int]:
    world = await arrange(db)
    tally = Tally()
    async with (
        serving(_settings(database_url, PgBouncerMode.OFF)) as (direct, _),
        serving(_settings(bounced_url, pgbouncer)) as (bounced, bounced_db),
    ):
        await phase_one(world, direct, bounced, tally)
        opened = bounced_db.pool.get_size()
        await db.execute("UPDATE events SET live_leaderboard = true WHERE phase = 'voting'")
        await phase_two(world, direct, bounced, tally)
    return world, tally, opened


async def test_every_answer_through_pgbouncer_is_the_direct_servers(
    db: asyncpg.Pool, database_url: str, bouncer: PgBouncer
) -> None:
    world, tally, opened = await run_comparison(
        db, database_url, _bounced_url(bouncer, database_url), PgBouncerMode.TRANSACTION
    )

    print(
        f"\nPODIUM_DATABASE_PGBOUNCER=transaction: {tally.compared} answers compared "
        f"({2 * tally.compared} requests), statuses {dict(sorted(tally.statuses.items()))}; "
        f"the app opened {opened} connections to PgBouncer, which had {SERVER_CONNECTIONS} to "
        f"PostgreSQL; {len(tally.wrong)} wrong answers"
    )
    assert not tally.wrong, "\n".join(tally.wrong[:20])
    assert 500 not in tally.statuses
    # The answers cover successes and refusals, and the server connections were shared.
    assert {200, 201, 400, 404, 409} <= set(tally.statuses)
    assert opened > SERVER_CONNECTIONS
    await check_votes(db, world)


async def test_without_the_setting_the_same_run_goes_wrong(
    db: asyncpg.Pool, database_url: str, bouncer: PgBouncer
) -> None:
    # The control: asyncpg's named statements through PgBouncer 1.18's transaction pooling.
    _, tally, _ = await run_comparison(
        db, database_url, _bounced_url(bouncer, database_url), PgBouncerMode.OFF
    )

    print(
        f"\nPODIUM_DATABASE_PGBOUNCER=off: {tally.compared} answers compared, "
        f"{len(tally.wrong)} differed from the direct server's (statuses through PgBouncer "
        f"{dict(sorted(tally.wrong_statuses.items()))})"
    )
    assert tally.wrong


async def test_pgbouncer_tracking_prepared_statements_answers_as_the_direct_server_with_off(
    db: asyncpg.Pool, database_url: str, tracking_bouncer: PgBouncer
) -> None:
    world, tally, opened = await run_comparison(
        db, database_url, _bounced_url(tracking_bouncer, database_url), PgBouncerMode.OFF
    )

    print(
        f"\nPgBouncer >= 1.21, max_prepared_statements = {MAX_PREPARED_STATEMENTS}, "
        f"PODIUM_DATABASE_PGBOUNCER=off: {tally.compared} answers compared "
        f"({2 * tally.compared} requests), statuses {dict(sorted(tally.statuses.items()))}; "
        f"the app opened {opened} connections to PgBouncer, which had {SERVER_CONNECTIONS} to "
        f"PostgreSQL; {len(tally.wrong)} wrong answers"
    )
    assert not tally.wrong, "\n".join(tally.wrong[:20])
    assert 500 not in tally.statuses
    assert {200, 201, 400, 404, 409} <= set(tally.statuses)
    assert opened > SERVER_CONNECTIONS
    await check_votes(db, world)
