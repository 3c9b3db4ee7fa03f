"""`podium serve --workers 2` under a steady mix of reads and votes while its own PostgreSQL
misbehaves: never a 500 or a dropped connection, 503s with Retry-After and the JSON body, back
within about a second of the database, and the votes stored exactly those answered 201.

Each test prints its answers and its measured recovery (`pytest -s` shows them; docs/operations.md
quotes them).
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from tests.faults.conftest import SERVER_ENV, Stack, fault_stack
from tests.faults.load import (
    Answer,
    Load,
    assert_clean_answers,
    assert_votes_match_answers,
    last_failure_after,
    recovery_seconds,
    summary,
)

CLIENTS = 8
WARM_SECONDS = 1.0
AFTER_SECONDS = 2.0
# Recovery is asserted against this (about a second, measured), with room for two busy cores.
RECOVERY_LIMIT_SECONDS = 2.0


def report(name: str, answers: list[Answer], back: float) -> float:
    recovered = recovery_seconds(answers, back)
    print(
        f"\n[{name}] {summary(answers)}; recovered {recovered:.2f} s after the database was"
        f" back; last failure started {last_failure_after(answers, back):.2f} s after"
    )
    return recovered


def finish(stack: Stack, name: str, answers: list[Answer], back: float) -> None:
    assert_clean_answers(answers)
    assert all(a.ok for a in answers if a.ended < back - 10)  # nothing failed before the fault
    recovered = report(name, answers, back)
    assert recovered < RECOVERY_LIMIT_SECONDS
    assert last_failure_after(answers, back) < RECOVERY_LIMIT_SECONDS
    asyncio.run(
        assert_votes_match_answers(stack.database_url, stack.event, answers, stack.vote_limit)
    )


def test_fast_shutdown_and_restart() -> None:
    with fault_stack() as stack:

        async def scenario() -> tuple[list[Answer], float]:
            async with Load(stack.base, stack.event, stack.vote_limit, CLIENTS) as load:
                await asyncio.sleep(WARM_SECONDS)
                await asyncio.to_thread(stack.postgres.stop, "fast")
                await asyncio.sleep(2.0)
                await asyncio.to_thread(stack.postgres.start)
                back = time.monotonic()
                await asyncio.sleep(AFTER_SECONDS)
            return load.answers, back

        answers, back = asyncio.run(scenario())
        finish(stack, "fast shutdown, 2 s down", answers, back)


def test_sigkill_of_the_postmaster() -> None:
    with fault_stack() as stack:

        async def scenario() -> tuple[list[Answer], float]:
            async with Load(stack.base, stack.event, stack.vote_limit, CLIENTS) as load:
                await asyncio.sleep(WARM_SECONDS)
                await asyncio.to_thread(stack.postgres.kill)
                await asyncio.sleep(1.0)
                # Crash recovery runs before the server accepts connections again.
                await asyncio.to_thread(stack.postgres.start)
                back = time.monotonic()
                await asyncio.sleep(AFTER_SECONDS)
            return load.answers, back

        answers, back = asyncio.run(scenario())
        finish(stack, "SIGKILL of the postmaster", answers, back)


def test_backends_terminated_under_the_app() -> None:
    with fault_stack() as stack:

        async def terminate_app_backends() -> int:
            admin = await asyncpg.connect(stack.postgres.url())
            try:
                ended: int = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = 'podium' AND pid <> pg_backend_pid()"
                )
                return ended
            finally:
                await admin.close()

        async def scenario() -> tuple[list[Answer], float, int]:
            async with Load(stack.base, stack.event, stack.vote_limit, CLIENTS) as load:
                await asyncio.sleep(WARM_SECONDS)
                ended = 0
                for _ in range(3):
                    ended += await terminate_app_backends()
                    await asyncio.sleep(0.5)
                back = time.monotonic()
                await asyncio.sleep(AFTER_SECONDS)
            return load.answers, back, ended

        answers, back, ended = asyncio.run(scenario())
        assert ended > 0
        print(f"\n[pg_terminate_backend] {ended} backends ended in 3 rounds")
        finish(stack, "backends terminated", answers, back)


def test_frozen_database_gives_fast_503s_and_commits_nothing_it_refused() -> None:
    freeze_seconds = 4.0
    statement_timeout = float(SERVER_ENV["PODIUM_DATABASE_STATEMENT_TIMEOUT"])
    assert freeze_seconds > statement_timeout
    with fault_stack() as stack:

        async def scenario() -> tuple[list[Answer], float]:
            async with Load(stack.base, stack.event, stack.vote_limit, CLIENTS) as load:
                await asyncio.sleep(WARM_SECONDS)
                frozen = stack.postgres.freeze()
                try:
                    await asyncio.sleep(freeze_seconds)
                finally:
                    stack.postgres.thaw(frozen)
                back = time.monotonic()
                await asyncio.sleep(AFTER_SECONDS)
            return load.answers, back

        answers, back = asyncio.run(scenario())
        refused = [a for a in answers if a.status == 503]
        assert refused, "the freeze refused nothing"
        slowest = max(a.ended - a.started for a in refused)
        # Bounded by the waits (statement timeout + 1 s, acquire, connect), not by the freeze.
        print(f"\n[SIGSTOP {freeze_seconds:g} s] slowest 503 took {slowest:.2f} s")
        assert slowest < freeze_seconds
        finish(stack, f"SIGSTOP {freeze_seconds:g} s", answers, back)


def test_max_connections_pressure_sheds_load_and_gives_idle_connections_back() -> None:
    # 2 workers x 20 connections against a server with 20: the connections it refuses are 503s.
    server_env = {"PODIUM_DATABASE_POOL_SIZE": "20", "PODIUM_DATABASE_IDLE_TIMEOUT": "2"}
    stack_max_connections = 20
    with fault_stack(server_env, max_connections=str(stack_max_connections)) as stack:

        async def scenario() -> tuple[list[Answer], float]:
            async with Load(stack.base, stack.event, stack.vote_limit, clients=60) as load:
                await asyncio.sleep(4.0)
            return load.answers, time.monotonic()

        answers, ended = asyncio.run(scenario())
        assert_clean_answers(answers)
        refused = sum(1 for a in answers if a.status == 503)
        print(f"\n[max_connections=20, 60 clients] {summary(answers)}; {refused} shed as 503")
        assert refused > 0
        assert any(a.ok for a in answers)
        asyncio.run(
            assert_votes_match_answers(stack.database_url, stack.event, answers, stack.vote_limit)
        )

        async def app_connections() -> int:
            try:
                admin = await asyncpg.connect(stack.postgres.url())
            except asyncpg.TooManyConnectionsError:
                return stack_max_connections  # every slot still taken
            try:
                count: int = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'podium'"
                )
                return count
            finally:
                await admin.close()

        # The idle timeout (2 s here) gives every connection back once the load is over.
        deadline = time.monotonic() + 10
        while (held := asyncio.run(app_connections())) > 0:
            assert time.monotonic() < deadline, f"the app still holds {held} idle connections"
            time.sleep(0.5)
        print(f"[max_connections=20] idle connections gone {time.monotonic() - ended:.1f} s after")
