"""The login-mail throttle's ledger: one row per magic link mailed, per address.

Times are `clock_timestamp()`, not `now()`: requests serialised on the address's lock must each
see the time they run at, not the start of their transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    Float,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Transaction
from podium.models import LoginMail
from podium.queries.statement import Statement

login_mails = LoginMail.ormar_config.table

# First key of the two-key advisory lock taken per address (the second is hashtext(email)),
# so these locks cannot collide with advisory locks taken on a single key.
LOGIN_MAIL_LOCK_SPACE = 0x4C4D41  # "LMA"

_EMAIL = bindparam("email", type_=String)
_WINDOW = func.make_interval(*[literal_column("0")] * 6, bindparam("window", type_=Float))
_NOW = func.clock_timestamp()

_LOCK = Statement(
    select(
        func.pg_advisory_xact_lock(
            literal_column(str(LOGIN_MAIL_LOCK_SPACE)), func.hashtext(_EMAIL)
        )
    )
)
_PRUNE_EXPIRED = Statement(
    delete(login_mails).where(
        login_mails.c.email == _EMAIL, login_mails.c.created_at <= _NOW - _WINDOW
    )
)
# The oldest mail that still fills the last allowed slot: while it is inside the window, the
# address is at its limit, and it leaves the window after this many seconds.
_SLOT_FREED_IN = Statement(
    select(func.extract("epoch", login_mails.c.created_at + _WINDOW - _NOW))
    .where(login_mails.c.email == _EMAIL, login_mails.c.created_at > _NOW - _WINDOW)
    .order_by(login_mails.c.created_at.desc())
    .offset(bindparam("slot", type_=Integer))
    .limit(1)
)
_RECORD = Statement(
    insert(login_mails).values(email=_EMAIL, created_at=_NOW).returning(login_mails.c.id)
)
_RELEASE = Statement(
    delete(login_mails).where(
        login_mails.c.id == bindparam("id", type_=postgresql.UUID(as_uuid=True))
    )
)


async def lock_address(tx: Transaction, email: str) -> None:
    """Serialise login mails for this address, across workers, until `tx` ends."""
    await _LOCK.execute(tx, email=email)


async def prune_expired(tx: Transaction, email: str, window_seconds: float) -> None:
    await _PRUNE_EXPIRED.execute(tx, email=email, window=window_seconds)


async def slot_freed_in(
    tx: Transaction, email: str, window_seconds: float, slot: int
) -> float | None:
    """Seconds until the `slot`-th newest mail in the window leaves it; None if there is none
    (the address has a free slot)."""
    wait = await _SLOT_FREED_IN.fetchval(tx, email=email, window=window_seconds, slot=slot)
    return None if wait is None else float(wait)


async def record(tx: Transaction, email: str) -> uuid.UUID:
    """Take a slot for a mail about to be sent; its id, to give it back if sending fails."""
    slot: uuid.UUID = await _RECORD.fetchval(tx, email=email)
    return slot


async def release(db: Executor, slot: uuid.UUID) -> None:
    """Give back a slot whose mail was not sent."""
    await _RELEASE.execute(db, id=slot)
