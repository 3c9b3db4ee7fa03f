"""The rate limiter's state (podium.services.rate_limits): one row per limited key.

A check is one statement, run on its own (autocommit) so that the request's transaction rolling
back cannot undo it: a failed attempt counts like any other.
"""

from __future__ import annotations

from sqlalchemy import (
    Float,
    Integer,
    String,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from podium.db import Executor
from podium.models import RateLimitState
from podium.queries.statement import Statement

rate_limits = RateLimitState.ormar_config.table

_KEY = bindparam("key", type_=String)


def _seconds(name: str) -> object:
    return func.make_interval(*[literal_column("0")] * 6, bindparam(name, type_=Float))


_INTERVAL = _seconds("interval")
# How far ahead of now a key's `tat` may be for one more request: the window less one interval.
_TOLERANCE = _seconds("tolerance")
_NOW = func.now()

# Take one request's allowance (GCRA): admitted when the key is no further ahead than the
# tolerance, and then one interval further ahead. ON CONFLICT serialises concurrent requests for
# a key on its row, so no burst from any number of workers gets past the limit; a refused
# request changes nothing. The fallback reads when the key has room again (no row at all: a
# concurrent first insert, not yet visible to this statement's snapshot).
_upsert = insert(rate_limits).values(key=_KEY, tat=_NOW + _INTERVAL)
_taken = (
    _upsert.on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={"tat": func.greatest(rate_limits.c.tat, _NOW) + _INTERVAL},
        where=rate_limits.c.tat <= _NOW + _TOLERANCE,
    )
    .returning(rate_limits.c.key)
    .cte("taken")
)
_TAKE = Statement(
    select(cast(null(), Float).label("wait"))
    .select_from(_taken)
    .union_all(
        select(func.extract("epoch", rate_limits.c.tat - (_NOW + _TOLERANCE)).label("wait")).where(
            rate_limits.c.key == _KEY, ~exists(select(_taken.c.key))
        )
    )
)
# A request that turned out not to count (a right join code) hands its interval back.
_GIVE_BACK = Statement(
    update(rate_limits).where(rate_limits.c.key == _KEY).values(tat=rate_limits.c.tat - _INTERVAL)
)
# Rows at rest (their allowance is whole again) say nothing a missing row does not.
_at_rest = (
    select(rate_limits.c.key)
    .where(rate_limits.c.tat < _NOW)
    .limit(bindparam("batch", type_=Integer))
    .scalar_subquery()
)
_PURGE = Statement(rate_limits.delete().where(rate_limits.c.key.in_(_at_rest)))


async def take(db: Executor, key: str, interval: float, tolerance: float) -> float | None:
    """Take one request's allowance for `key`: None when admitted, else the seconds until it
    would be (`interval` is the window over the limit, `tolerance` the window less one)."""
    rows = await _TAKE.fetch(db, key=key, interval=interval, tolerance=tolerance)
    if not rows:
        return interval
    wait = rows[0]["wait"]
    return None if wait is None else max(float(wait), 0.0)


async def give_back(db: Executor, key: str, interval: float) -> None:
    await _GIVE_BACK.execute(db, key=key, interval=interval)


async def purge(db: Executor, batch: int) -> int:
    """Delete up to `batch` rows at rest; how many went."""
    status = await _PURGE.execute(db, batch=batch)
    return int(status.split()[-1])
