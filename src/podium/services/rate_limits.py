"""Rate limits in PostgreSQL, shared by every worker and instance (docs/security.md).

The algorithm is the generic cell rate algorithm (GCRA): a limit of N per W seconds lets a key
take a burst of N, then one request every W/N seconds. Each key keeps one timestamp, moved by
one atomic upsert per request (podium.queries.rate_limits): no fixed window, so a client cannot
get 2N through by straddling a window boundary, and the `Retry-After` of a refusal is exact
(when the next request would be admitted). A refused request takes nothing, so hammering a limit
does not push its end further away; every admitted one counts, whatever the request's outcome.

The check runs on its own (autocommit), before and outside the request's transaction, so a
request that fails and rolls back has still been counted: on the autocommit pool, or (`counter`)
on the transaction's connection before its BEGIN.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from enum import StrEnum

from podium.config import Settings
from podium.db import Executor
from podium.errors import ApiError, ErrorCode
from podium.queries import rate_limits as rate_limit_rows
from podium.rate_limit import RateLimit
from podium.services.join_codes import WrongJoinCode

log = logging.getLogger(__name__)

# Rows at rest deleted per purge statement, and statements per purge round at most.
PURGE_BATCH = 5000
PURGE_BATCHES = 20


class Bucket(StrEnum):
    """What is limited; each has its `rate_limit_<name>` setting."""

    SIGNUP = "signup"
    LOGIN = "login"
    VERIFY = "verify"
    EVENT_CREATE = "event_create"
    PROJECT_CREATE = "project_create"
    VOTES = "votes"
    EDITS = "edits"
    JOIN_USER = "join_user"
    JOIN_ADDRESS = "join_address"


# How a refusal names what was limited: "too many <this>".
WHAT = {
    Bucket.SIGNUP: "sign-ups from this network",
    Bucket.LOGIN: "login emails requested from this network",
    Bucket.VERIFY: "login attempts from this network",
    Bucket.EVENT_CREATE: "events created",
    Bucket.PROJECT_CREATE: "projects created",
    Bucket.VOTES: "vote requests",
    Bucket.EDITS: "edits",
    Bucket.JOIN_USER: "wrong join codes",
    Bucket.JOIN_ADDRESS: "wrong join codes from this network",
}


def limit_of(settings: Settings, bucket: Bucket) -> RateLimit | None:
    limit: RateLimit | None = getattr(settings, f"rate_limit_{bucket.value}")
    return limit


def user_key(bucket: Bucket, user_id: uuid.UUID) -> str:
    return f"{bucket.value}:u:{user_id}"


def address_key(bucket: Bucket, address: str) -> str:
    return f"{bucket.value}:a:{address}"


def rate_limited(bucket: Bucket, wait: float) -> ApiError:
    retry_after = max(1, math.ceil(wait))
    return ApiError(
        429,
        ErrorCode.RATE_LIMITED,
        f"too many {WHAT[bucket]}; try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )


async def check(db: Executor, settings: Settings, bucket: Bucket, key: str) -> None:
    """Count one request against `bucket` for `key`, or raise 429 when it is over the limit."""
    limit = limit_of(settings, bucket)
    if limit is None:
        return
    wait = await rate_limit_rows.take(db, key, limit.interval, limit.seconds - limit.interval)
    if wait is not None:
        raise rate_limited(bucket, wait)


def counter(
    settings: Settings, bucket: Bucket, key: str
) -> Callable[[Executor], Awaitable[None]] | None:
    """`check` for `Database.transaction(before_begin=…)`: the count on the transaction's own
    connection, before BEGIN, so a hot write (a vote) pays no second pool round for its limit.
    None when the bucket is not limited."""
    if limit_of(settings, bucket) is None:
        return None

    async def count(db: Executor) -> None:
        await check(db, settings, bucket, key)

    return count


async def give_back(db: Executor, settings: Settings, bucket: Bucket, key: str) -> None:
    """Undo one counted request (one that, it turned out, is not what the limit counts)."""
    limit = limit_of(settings, bucket)
    if limit is not None:
        await rate_limit_rows.give_back(db, key, limit.interval)


@asynccontextmanager
async def join_code_attempt(
    db: Executor, settings: Settings, user_id: uuid.UUID, address: str
) -> AsyncIterator[None]:
    """Count a join-code attempt against the caller and their address; only a wrong code
    (WrongJoinCode raised in the block) keeps counting.

    Counted before the code is looked at, so a burst of any size gets at most the limit's worth
    of guesses tried; a right code (whatever it then answers) gives its share back. An account
    over its limit takes nothing from its address, so one guesser behind a venue's NAT does not
    lock out the room.
    """
    taken = [(Bucket.JOIN_USER, user_key(Bucket.JOIN_USER, user_id))]
    await check(db, settings, *taken[0])
    try:
        address_bucket = (Bucket.JOIN_ADDRESS, address_key(Bucket.JOIN_ADDRESS, address))
        await check(db, settings, *address_bucket)
        taken.append(address_bucket)
    except ApiError:
        await _give_back_all(db, settings, taken)
        raise
    try:
        yield
    except WrongJoinCode:
        raise
    except Exception:
        # Not a guess that missed (a database fault, a rule about the right code): not counted.
        try:
            await _give_back_all(db, settings, taken)
        except Exception:  # the original error is the one to report
            log.warning("could not give back a join-code attempt", exc_info=True)
        raise
    await _give_back_all(db, settings, taken)


async def _give_back_all(db: Executor, settings: Settings, taken: list[tuple[Bucket, str]]) -> None:
    for bucket, key in taken:
        await give_back(db, settings, bucket, key)


async def purge_at_rest(db: Executor) -> int:
    """Delete rows of keys whose allowance is whole again, a bounded number; how many went."""
    deleted = 0
    for _ in range(PURGE_BATCHES):
        batch = await rate_limit_rows.purge(db, PURGE_BATCH)
        deleted += batch
        if batch < PURGE_BATCH:
            break
    return deleted


async def purge_periodically(db: Executor, every_seconds: float) -> None:
    """Run `purge_at_rest` every so often until cancelled (the app's lifespan runs it)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await purge_at_rest(db)
        except Exception as exc:  # a database that is down now is retried next round
            log.warning("rate-limit purge skipped: %s", exc)
