"""Whether the database answers at all."""

from __future__ import annotations

from sqlalchemy import literal_column, select

from podium.db import Executor
from podium.queries.statement import Statement

_PING = Statement(select(literal_column("1")))


async def ping(db: Executor) -> None:
    await _PING.fetchval(db)
