"""Listings run in a thread, their pages handed to the event loop as they arrive.

pyairtable is synchronous; running every listing of a command back to back in one thread keeps
the (rate-limited) reading going while the event loop plans and writes what already arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    """Reads `listings` in order in a worker thread; `items()` yields Page and End markers."""

    def __init__(self, source: AirtableSource, listings: Sequence[Listing]) -> None:
        self.source = source
        self.listings = list(listings)
        self._queue: asyncio.Queue[Page | End | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PageFeed:
        loop = asyncio.get_running_loop()
        self.source.stop.clear()

        def put(item: Page | End | BaseException | None) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        def produce() -> None:
            try:
                for number, listing in enumerate(self.listings):
                    for records in self.source.pages(
                        listing.stage, fields=listing.fields, formula=listing.formula
                    ):
                        put(Page(number, records))
                    put(End(number))
                put(None)
            except Stopped:
                put(None)
            except BaseException as error:  # handed to the consumer, which re-raises it
                put(error)

        self._task = asyncio.create_task(asyncio.to_thread(produce))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.source.stop.set()
        if self._task is not None:
            # The thread notices the stop flag at its next page or pause; wait for it so no
            # request outlives the command.
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._task)

    async def items(self) -> AsyncIterator[Page | End]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
