"""Keyset pagination for lists that grow without bound.

Pages follow `(created_at, seq)` ascending: a total order that new rows only extend, so paging
while rows arrive neither skips nor repeats. The cursor is opaque to clients (base64url of the
last row's key); anything that does not decode to a key is a 422, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query

from podium.db import Executor
from podium.errors import ApiError, ErrorCode
from podium.queries import admin as admin_rows

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_MAX_CURSOR_LENGTH = 200
_MAX_SEQ = 2**63 - 1
_SEPARATOR = "|"


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    seq: int


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: Cursor | None


def _invalid_cursor() -> ApiError:
    return ApiError(
        422, ErrorCode.INVALID_CURSOR, "cursor is not one this API returned; omit it to start over"
    )


def encode_cursor(created_at: datetime, seq: int) -> str:
    raw = f"{created_at.astimezone(UTC).isoformat()}{_SEPARATOR}{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, seq_text = raw.split(_SEPARATOR)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None or not seq_text.isdigit():
            raise ValueError("not a cursor")
        seq = int(seq_text)
        if seq > _MAX_SEQ:
            raise ValueError("not a cursor")
        return Cursor(created_at.astimezone(UTC), seq)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise _invalid_cursor() from None


async def page_request(  # async: a sync dependency would cost a worker-thread hop per request
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=_MAX_CURSOR_LENGTH,
            description="`next_cursor` of the previous page; omit for the first page",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageParams = Annotated[PageRequest, Depends(page_request)]


async def fetch_page(
    db: Executor, which: admin_rows.AdminList, event_id: uuid.UUID, page: PageRequest
) -> tuple[list[Mapping[str, Any]], str | None]:
    """One page of the owner's list `which` (podium.queries.admin) and the next page's cursor."""
    after = None if page.after is None else (page.after.created_at, page.after.seq)
    rows = await admin_rows.page(db, which, event_id, page.limit + 1, after)
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_cursor(last["created_at"], last["seq"])
