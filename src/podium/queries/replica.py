"""What the app asks a read replica about itself: how far its replay is behind."""

from __future__ import annotations

from sqlalchemy import text

from podium.db import Executor
from podium.queries.statement import Statement

# Seconds since the last transaction the replica replayed was committed on the primary, while
# WAL it has received waits to be replayed; 0 once it has replayed all it received (a quiet
# primary sends nothing, so an idle replica is not "behind"; a freshly started one has replayed
# past where streaming restarts). A server that is not in recovery has no receive position: 0.
# WAL waiting but no transaction replayed since the replica started: NULL, "cannot tell".
_REPLAY_LAG = Statement(
    text(
        "SELECT CASE"
        " WHEN pg_last_wal_receive_lsn() IS NULL"
        " OR pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0.0"
        " ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
        " END"
    )
)


async def replay_lag(db: Executor) -> float | None:
    """How many seconds the replica's data is behind the primary's (None: it cannot tell)."""
    lag = await _REPLAY_LAG.fetchval(db)
    return None if lag is None else float(lag)
