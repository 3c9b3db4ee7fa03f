"""Public reads on a streaming replica (`PODIUM_DATABASE_READ_URL`), the primary whenever the
replica cannot answer them as well: down, too far behind, or without the row asked for.

Which requests read here is decided in podium.deps (`read_database_of`): anonymous public reads
only; a request with a token reads from the primary, so a caller sees their own writes. The
rules, and what was measured: docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from podium.db import Database, Record, connection_fault
from podium.errors import DatabaseUnavailable
from podium.queries import replica as replica_queries

log = logging.getLogger(__name__)

# How often the replica is asked how far behind it is, and how long it may take to say: a
# replica that was given up is tried again (its pool reconnecting) at this pace, and one that
# freezes is given up within a probe's time.
PROBE_INTERVAL_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0

# A hot standby cancels a query whose snapshot still needs rows that replay must remove
# ("canceling statement due to conflict with recovery"): the primary answers it instead.
RECOVERY_CONFLICTS = frozenset({"40001", "40P01"})

# `ReadReplica.unavailable` until the first probe has answered.
NOT_PROBED = "not probed yet"


class ReadReplica:
    """An Executor for public reads: the replica's pool, the primary's as the fallback.

    `unavailable` says why reads go to the primary now (None: they go to the replica). A
    connection fault on the replica sets it at once, so only the reads in flight at that moment
    pay for the fault (a connect or statement timeout, then the primary); the probe clears it
    when the replica answers again, and sets it while replay lags more than `max_lag` seconds
    (0: any lag is accepted). A write never reaches the replica (`execute` is the primary's,
    and there is no `transaction()`).
    """

    def __init__(
        self,
        replica: Database,
        primary: Database,
        *,
        max_lag: float,
        probe_interval: float = PROBE_INTERVAL_SECONDS,
        probe_timeout: float = PROBE_TIMEOUT_SECONDS,
    ) -> None:
        self.replica, self.primary = replica, primary
        self._max_lag = max_lag
        self._probe_interval, self._probe_timeout = probe_interval, probe_timeout
        self.unavailable: str | None = NOT_PROBED
        self._prober: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the replica's pool and probe it once; the app starts whatever the answer."""
        await self.replica.open()
        await self.probe()
        self._prober = asyncio.create_task(self._probe_forever(), name="read-replica-probe")

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
            self._prober = None
        await self.replica.close()

    async def probe(self) -> None:
        """Ask the replica how far behind it is, and route the next reads by its answer."""
        try:
            async with asyncio.timeout(self._probe_timeout):
                lag = await replica_queries.replay_lag(self.replica)
        except Exception as exc:  # whatever stops the replica answering means "not now"
            self._set_unavailable(f"unreachable: {connection_fault(exc) or type(exc).__name__}")
            return
        if self._max_lag and lag is None:
            self._set_unavailable("its replay lag is unknown (WAL waiting, nothing replayed yet)")
        elif self._max_lag and lag is not None and lag > self._max_lag:
            self._set_unavailable(f"replay {lag:.1f} s behind (bound {self._max_lag:g} s)")
        else:
            self._set_unavailable(None)

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            await self.probe()

    def _set_unavailable(self, reason: str | None) -> None:
        # One log line per change of route, not one per probe.
        if self.unavailable is NOT_PROBED:
            log.log(
                logging.INFO if reason is None else logging.WARNING,
                "read replica: %s",
                reason or "in use",
            )
        elif reason is not None and self.unavailable is None:
            log.warning("read replica not used, reads go to the primary: %s", reason)
        elif reason is None and self.unavailable is not None:
            log.warning("read replica used again (was: %s)", self.unavailable)
        self.unavailable = reason

    def _falls_back(self, exc: Exception) -> bool:
        """Whether a read that failed on the replica is one for the primary to answer."""
        if isinstance(exc, DatabaseUnavailable):
            self._set_unavailable(f"unreachable: {exc.reason}")
            return True
        return isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in RECOVERY_CONFLICTS

    async def fetch(self, query: str, *args: Any) -> list[Record]:
        if self.unavailable is None:
            try:
                return await self.replica.fetch(query, *args)
            except Exception as exc:
                if not self._falls_back(exc):
                    raise
        return await self.primary.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> Record | None:
        if self.unavailable is None:
            try:
                row = await self.replica.fetchrow(query, *args)
            except Exception as exc:
                if not self._falls_back(exc):
                    raise
            else:
                if row is not None:
                    return row
                # Not on the replica: perhaps not there *yet* (an event opened from a link
                # shared the moment it was created, a profile read right after sign-up).
                # Only the primary can say it does not exist.
        return await self.primary.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        if self.unavailable is None:
            try:
                return await self.replica.fetchval(query, *args)
            except Exception as exc:
                if not self._falls_back(exc):
                    raise
        return await self.primary.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        # A statement run for its effect may write: the replica would refuse it.
        return await self.primary.execute(query, *args)
