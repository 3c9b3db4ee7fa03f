"""The app on a primary and a real hot standby of it: anonymous public reads are answered by the
standby, a caller with a token reads from the primary (their own writes, even while replay is
paused), and a standby that is stopped, frozen or lagging past the bound hands its reads to the
primary until it is back. Each test prints what it measured (`pytest -s`)."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx

from podium.db import Database
from podium.ids import Entity
from podium.public_ids import decode_id, public_id
from podium.read_replica import ReadReplica
from tests.conftest import access_token
from tests.replica.conftest import (
    Pair,
    ServerLog,
    caught_up,
    on_server,
    replica_of,
    replica_settings,
    running,
    until,
)

# Not a request's: the probe's own statement, which the standby logs every second whatever the
# requests do, and asyncpg's type introspection on a connection it has just opened.
NOT_REQUESTS = ("pg_last_wal_replay_lsn", "pg_catalog.pg_type")
# A standby back (or caught up) is used again within a probe or two; room for two busy cores.
BACK_WITHIN_SECONDS = 5.0
PROJECT = {
    "repo": "https://example.com/repo",
    "image_url": "https://example.com/image.png",
    "demo": "https://example.com/demo",
}


@dataclass
class World:
    """An event in voting with a live leaderboard, its owner, a project owner and a voter."""

    event: dict[str, Any]
    project: dict[str, Any]
    organiser: dict[str, str]
    ada: dict[str, str]
    bob: dict[str, str]
    ada_id: str

    def public_paths(self) -> list[str]:
        """The public reads: event page, slug, project list and ranking, project page, user."""
        event_id = self.event["id"]
        return [
            f"/events/{event_id}",
            f"/events/id/{self.event['slug']}",
            f"/events/{event_id}/projects",
            f"/events/{event_id}/projects?leaderboard=true",
            f"/projects/{self.project['id']}",
            f"/users/{self.ada_id}",
        ]


async def sign_up(http: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str]]:
    """A new account (anonymous POST /users/); its ID and bearer header."""
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    response = await http.post("/users/", json={"email": email, "first_name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"], {"Authorization": f"Bearer {access_token(email)}"}


async def arrange(http: httpx.AsyncClient) -> World:
    """Everything through the API, so every row is written on the primary."""
    _, organiser = await sign_up(http, "Olga")
    ada_id, ada = await sign_up(http, "Ada")
    _, bob = await sign_up(http, "Bob")
    created = await http.post(
        "/events/",
        json={
            "name": f"Replica Night {secrets.token_hex(3)}",
            "phase": "voting",
            "live_leaderboard": True,
        },
        headers=organiser,
    )
    assert created.status_code == 201, created.text
    event = created.json()
    for attendee in (ada, bob):
        joined = await http.post(
            "/events/attend", params={"join_code": event["join_code"]}, headers=attendee
        )
        assert joined.status_code == 200, joined.text
    project = await http.post(
        "/projects/", json={"name": "Rover", "event": event["id"], **PROJECT}, headers=ada
    )
    assert project.status_code == 201, project.text
    return World(event, project.json(), organiser, ada, bob, ada_id)


def request_statements(log: ServerLog) -> list[str]:
    """What a server ran for requests since the mark (not the replica probe's statement)."""
    return [
        statement
        for statement in log.statements_since_mark()
        if not any(mark in statement for mark in NOT_REQUESTS)
    ]


async def read_on(
    pair: Pair, http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, list[str], list[str]]:
    """GET `path`: the response and the statements the primary and the standby ran for it."""
    pair.primary_log.mark()
    pair.standby_log.mark()
    response = await http.get(path, headers=headers)
    return response, request_statements(pair.primary_log), request_statements(pair.standby_log)


async def test_anonymous_public_reads_are_answered_by_the_standby(pair: Pair) -> None:
    async with running(replica_settings(pair, database_read_max_lag=0)) as (app, http):
        world = await arrange(http)
        await caught_up(pair)
        await until(lambda: _used(app), 5, "the standby probed healthy")
        for path in world.public_paths():
            anonymous, on_primary, on_standby = await read_on(pair, http, path)
            assert anonymous.status_code == 200, (path, anonymous.text)
            assert on_standby, f"{path}: the standby ran nothing"
            assert on_primary == [], f"{path}: the primary ran {on_primary}"

            # With a token the same read is the primary's, and the answers agree.
            signed, on_primary, on_standby = await read_on(pair, http, path, world.bob)
            assert signed.status_code == 200, (path, signed.text)
            assert on_primary, f"{path}: the primary ran nothing for a signed-in caller"
            assert on_standby == [], f"{path}: the standby ran {on_standby}"
            assert signed.json() == anonymous.json(), path

        # Personal reads are the primary's whoever asks.
        for path, headers in (("/users/current", world.ada), ("/projects/mine", world.ada)):
            response, on_primary, on_standby = await read_on(pair, http, path, headers)
            assert response.status_code == 200, response.text
            assert on_primary and on_standby == [], path
        print(f"\n[replica] {len(world.public_paths())} public reads answered by the standby")


async def test_a_writer_reads_their_writes_while_replay_is_paused(pair: Pair) -> None:
    async with running(replica_settings(pair, database_read_max_lag=0)) as (app, http):
        world = await arrange(http)
        await caught_up(pair)
        await until(lambda: _used(app), 5, "the standby probed healthy")
        project_path = f"/projects/{world.project['id']}"
        ranking_path = f"/events/{world.event['id']}/projects?leaderboard=true"
        await on_server(pair.replica, "SELECT pg_wal_replay_pause()")
        try:
            renamed = await http.put(
                project_path, json={"name": "Rover II", **PROJECT}, headers=world.ada
            )
            assert renamed.status_code == 200, renamed.text
            voted = await http.post(
                "/events/vote",
                json={"event": world.event["id"], "projects": [world.project["id"]]},
                headers=world.bob,
            )
            assert voted.status_code == 201, voted.text
            assert voted.json()["votes_remaining"] == 0

            # The lag is real: an anonymous reader still gets the standby's old rows…
            stale = await http.get(project_path)
            assert stale.json()["name"] == "Rover"
            assert (await http.get(ranking_path)).json()[0]["points"] == 0
            # …while the writers see what they wrote.
            own = await http.get(project_path, headers=world.ada)
            assert own.json()["name"] == "Rover II"
            ranking = await http.get(ranking_path, headers=world.bob)
            assert ranking.json()[0]["points"] == 1
            again = await http.post(
                "/events/vote",
                json={"event": world.event["id"], "projects": [world.project["id"]]},
                headers=world.bob,
            )
            assert again.status_code == 409, again.text  # the primary knows the vote is cast

            # A row the standby does not have yet is looked for on the primary: a profile read
            # right after sign-up (an anonymous write) is found.
            carol_id, _ = await sign_up(http, "Carol")
            profile, on_primary, on_standby = await read_on(pair, http, f"/users/{carol_id}")
            assert profile.status_code == 200, profile.text
            assert on_standby and on_primary, "the standby was asked first, then the primary"
            missing = await http.get(f"/users/{_unknown_user_id(carol_id)}")
            assert missing.status_code == 404
        finally:
            await on_server(pair.replica, "SELECT pg_wal_replay_resume()")

        async def replayed() -> bool:
            response = await http.get(project_path)
            return bool(response.json()["name"] == "Rover II")

        seconds = await until(replayed, BACK_WITHIN_SECONDS, "the standby replayed the rename")
        print(f"\n[replica] replay resumed: anonymous reads current after {seconds:.2f} s")


async def test_reads_go_to_the_primary_while_the_standby_is_stopped(pair: Pair) -> None:
    async with running(replica_settings(pair, database_read_max_lag=0)) as (app, http):
        world = await arrange(http)
        await caught_up(pair)
        await until(lambda: _used(app), 5, "the standby probed healthy")
        expected = {path: (await http.get(path)).json() for path in world.public_paths()}

        await asyncio.to_thread(pair.replica.stop, "fast")
        started = time.monotonic()
        statuses = []
        for _ in range(3):
            for path in world.public_paths():
                response, on_primary, _ = await read_on(pair, http, path)
                statuses.append(response.status_code)
                assert response.status_code == 200, (path, response.text)
                assert response.json() == expected[path], path
                assert on_primary, f"{path}: the primary ran nothing"
        down_reads = time.monotonic() - started
        reason = replica_of(app).unavailable
        assert reason is not None and reason.startswith("unreachable"), reason

        await asyncio.to_thread(pair.replica.start)
        back = await until(lambda: _used(app), BACK_WITHIN_SECONDS, "the standby used again")
        response, on_primary, on_standby = await read_on(pair, http, world.public_paths()[0])
        assert response.status_code == 200
        assert on_standby and on_primary == []
        print(
            f"\n[replica] standby stopped: {len(statuses)} reads all 200 from the primary in"
            f" {down_reads:.2f} s; started again: used after {back:.2f} s"
        )


async def test_reads_go_to_the_primary_while_the_standby_is_frozen(pair: Pair) -> None:
    settings = replica_settings(pair, database_read_max_lag=0)
    async with running(settings) as (app, http):
        world = await arrange(http)
        await caught_up(pair)
        await until(lambda: _used(app), 5, "the standby probed healthy")
        frozen = pair.replica.freeze()
        try:
            durations = []
            for path in world.public_paths() * 2:
                started = time.monotonic()
                response = await http.get(path)
                durations.append(time.monotonic() - started)
                assert response.status_code == 200, (path, response.text)
            # Only the read that met the freeze waited (the client's statement bound at most);
            # the others went to the primary at once.
            bound = settings.database_statement_timeout + 1 + 0.5
            assert durations[0] < bound
            assert max(durations[1:]) < 0.5, durations
            assert replica_of(app).unavailable is not None
        finally:
            pair.replica.thaw(frozen)
        back = await until(lambda: _used(app), BACK_WITHIN_SECONDS, "the standby used again")
        print(
            f"\n[replica] standby frozen: first read {durations[0]:.2f} s, the next"
            f" {len(durations) - 1} at most {max(durations[1:]) * 1000:.0f} ms; thawed: used"
            f" after {back:.2f} s"
        )


async def test_a_standby_lagging_past_the_bound_is_not_read(pair: Pair) -> None:
    async with running(replica_settings(pair, database_read_max_lag=1.0)) as (app, http):
        world = await arrange(http)
        await caught_up(pair)
        await until(lambda: _used(app), 5, "the standby probed healthy")
        project_path = f"/projects/{world.project['id']}"
        await on_server(pair.replica, "SELECT pg_wal_replay_pause()")
        try:
            renamed = await http.put(
                project_path, json={"name": "Rover Lagged", **PROJECT}, headers=world.ada
            )
            assert renamed.status_code == 200, renamed.text

            async def current() -> bool:
                response = await http.get(project_path)
                assert response.status_code == 200, response.text
                return bool(response.json()["name"] == "Rover Lagged")

            # Past the bound (a second) and a probe, anonymous reads are the primary's.
            switched = await until(current, BACK_WITHIN_SECONDS, "reads left the lagging standby")
            reason = replica_of(app).unavailable
            assert reason is not None and "behind" in reason, reason
            _, on_primary, on_standby = await read_on(pair, http, project_path)
            assert on_primary and on_standby == []
        finally:
            await on_server(pair.replica, "SELECT pg_wal_replay_resume()")
        back = await until(lambda: _used(app), BACK_WITHIN_SECONDS, "the standby used again")
        print(
            f"\n[replica] replay paused under a 1 s bound: reads on the primary after"
            f" {switched:.2f} s ({reason}); resumed: standby used after {back:.2f} s"
        )


async def _used(app: Any) -> bool:
    return replica_of(app).unavailable is None


def _unknown_user_id(known: str) -> str:
    """A well-formed user ID that names nobody (the next sequence numbers are unused)."""
    seq = decode_id(Entity.USER, known)
    assert seq is not None
    return public_id(Entity.USER, seq + 1000)


async def test_a_read_cancelled_by_a_recovery_conflict_is_answered_by_the_primary(
    pair: Pair,
) -> None:
    """A standby cancels a query whose snapshot still sees rows that replay must vacuum away
    (here at once: max_standby_streaming_delay = 0); the read is then the primary's."""
    await on_server(pair.replica, "ALTER SYSTEM SET max_standby_streaming_delay = 0")
    await on_server(pair.replica, "SELECT pg_reload_conf()")
    primary = Database(pair.primary.url("podium"), size=2)
    replica = ReadReplica(Database(pair.replica.url("podium"), size=2), primary, max_lag=0)
    await primary.open()
    await replica.open()
    try:
        await _conflicting_rows(pair)
        await caught_up(pair)
        # Holds its snapshot for two seconds on the standby, long enough for replay to meet the
        # vacuum below.
        slow_read = "SELECT count(*) FROM (SELECT pg_sleep(2) FROM replica_conflict LIMIT 1) s"
        pair.primary_log.mark()
        pair.standby_log.mark()
        read = asyncio.create_task(replica.fetchval(slow_read))
        await asyncio.sleep(0.3)
        await on_server(pair.primary, "UPDATE replica_conflict SET n = n + 1")
        await on_server(pair.primary, "VACUUM replica_conflict")
        assert await read == 1
        primary_ran = [s for s in pair.primary_log.statements_since_mark() if "pg_sleep" in s]
        standby_ran = [s for s in pair.standby_log.statements_since_mark() if "pg_sleep" in s]
        assert standby_ran and primary_ran, "asked on the standby first, then on the primary"
        standby_said = pair.replica.log.read_text()
        assert "conflict with recovery" in standby_said
        assert replica.unavailable is None  # a conflict is not an outage
    finally:
        await replica.close()
        await primary.close()
        await on_server(pair.replica, "ALTER SYSTEM RESET max_standby_streaming_delay")
        await on_server(pair.replica, "SELECT pg_reload_conf()")


async def _conflicting_rows(pair: Pair) -> None:
    await on_server(pair.primary, "DROP TABLE IF EXISTS replica_conflict")
    await on_server(
        pair.primary,
        "CREATE TABLE replica_conflict AS SELECT g AS n FROM generate_series(1, 100) g",
    )
