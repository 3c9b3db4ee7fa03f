"""Join codes (events and projects): short, upper-case, random, unique.

The database's unique constraint is the judge of uniqueness; a clash is retried with a fresh
code inside a savepoint, so the request's transaction survives the failed insert.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

from podium.db import Transaction, violation
from podium.errors import ApiError, ErrorCode
from podium.models.constraints import JOIN_CODE_PATTERN, Constraint
from podium.queries import IntegrityError
from podium.queries import trash as trash_rows

# The codes v2 makes: no 0/O, 1/I/L, as they are read aloud and copied from slides. Codes
# accepted are any the database holds (JOIN_CODE_PATTERN): v1's codes used every letter.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6
# 31**6 ≈ 8.9e8 codes: a clash is rare, five in a row means something else is wrong.
JOIN_CODE_ATTEMPTS = 5

T = TypeVar("T")


class JoinCodesExhausted(RuntimeError):
    """Every attempt clashed with an existing code."""


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


_STORED_FORM = re.compile(JOIN_CODE_PATTERN)


def normalise_join_code(value: str) -> str | None:
    """What a person typed, in the stored form (codes match case-insensitively); None when it
    cannot be anyone's code, so no query is spent on it."""
    code = value.strip().upper()
    return code if _STORED_FORM.match(code) else None


async def with_unique_join_code(
    tx: Transaction,
    insert: Callable[[str], Awaitable[T]],
    constraint: Constraint,
    reservation: str,
    attempts: int = JOIN_CODE_ATTEMPTS,
) -> T:
    """Run `insert(code)` (on `tx`) with fresh codes until none clashes on `constraint` or is
    reserved by the trash (`reservation`: its kind, podium.models.trash).

    Each attempt is a savepoint of `tx`, so a clash leaves the request's transaction usable. Any
    other integrity error (a taken slug, say) propagates unchanged for the caller to map. The
    caller holds the reservations' shared lock (podium.queries.trash.lock_values_shared).
    """
    for _ in range(attempts):
        code = new_join_code()
        if await trash_rows.is_reserved(tx, reservation, code):
            continue  # a trashed row's: as taken as a live one
        try:
            async with tx.transaction():
                return await insert(code)
        except IntegrityError as exc:
            if violation(exc).constraint != constraint:
                raise
    raise JoinCodesExhausted(f"no free join code after {attempts} attempts")


class WrongJoinCode(ApiError):
    """A join code that is nobody's, or not one this caller may use: one answer for both, so a
    guesser learns nothing from it, and the attempt counts against the join-code limits."""

    def __init__(self, what: str) -> None:
        super().__init__(404, ErrorCode.NOT_FOUND, f"no {what} has this join code")
