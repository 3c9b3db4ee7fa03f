"""Listings run in worker threads, their pages handed to the event loop as they arrive.

pyairtable is synchronous. Reading the listings of a command in `concurrency` threads (sharing
the source's rate limiter) keeps the rate budget busy while the event loop plans and writes what
already arrived; a listing's pages arrive in order, listings may interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from podium.backfill.airtable import AirtableSource, Stopped


@dataclass(frozen=True)
class Listing:
    stage: str
    fields: Sequence[str] | None = None
    formula: str | None = None
    ids_only: bool = False  # a deletion scan: only the ids matter


@dataclass(frozen=True)
class Page:
    listing: int
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class End:
    listing: int


class PageFeed:
    """Reads `listings` (taken in order by the workers); `items()` yields Page and End."""

    def __init__(self, source: AirtableSource, listings: Sequence[Listing]) -> None:
        self.source = source
        self.listings = list(listings)
        self._queue: asyncio.Queue[Page | End | BaseException | None] = asyncio.Queue()
        self._tasks: list[asyncio.Future[None]] = []

    async def __aenter__(self) -> PageFeed:
        loop = asyncio.get_running_loop()
        self.source.stop.clear()
        pending = iter(range(len(self.listings)))
        claim = threading.Lock()
        workers = max(1, min(self.source.config.concurrency, len(self.listings)))
        remaining = [workers]

        def put(item: Page | End | BaseException | None) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        def work() -> None:
            try:
                while True:
                    with claim:
                        number = next(pending, None)
                    if number is None:
                        break
                    listing = self.listings[number]
                    for records in self.source.pages(
                        listing.stage, fields=listing.fields, formula=listing.formula
                    ):
                        put(Page(number, records))
                    put(End(number))
            except Stopped:
                pass
            except BaseException as error:  # handed to the consumer, which re-raises it
                self.source.stop.set()
                put(error)
            finally:
                with claim:
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        put(None)

        self._tasks = [asyncio.ensure_future(asyncio.to_thread(work)) for _ in range(workers)]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.source.stop.set()
        # The workers notice the stop flag at their next page or pause; wait for them so no
        # request outlives the command.
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await asyncio.shield(task)

    async def items(self) -> AsyncIterator[Page | End]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
