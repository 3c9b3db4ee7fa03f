"""Keyset pagination for lists that grow without bound.

Pages follow `(created_at, seq)` ascending: a total order that new rows only extend, so paging
while rows arrive neither skips nor repeats. The cursor is opaque to clients (base64url of the
last row's key); anything that does not decode to a key is a 422, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy
from fastapi import Depends, Query
from sqlalchemy.engine import RowMapping

from podium.db import database
from podium.errors import ApiError, ErrorCode

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
    query: str, params: dict[str, Any], page: PageRequest, key: str
) -> tuple[list[RowMapping], str | None]:
    """One page of `query` (a SELECT … WHERE … without ORDER BY/LIMIT), keyed on the alias `key`.

    The selected rows must carry that alias's `created_at` and `seq` under those names.
    """
    sql = query
    bound = dict(params, page_limit=page.limit + 1)
    if page.after is not None:
        sql += f" AND ({key}.created_at, {key}.seq) > (:after_created_at, :after_seq)"
        bound.update(after_created_at=page.after.created_at, after_seq=page.after.seq)
    sql += f" ORDER BY {key}.created_at, {key}.seq LIMIT :page_limit"
    async with database.connection() as conn:
        rows = list((await conn.execute(sqlalchemy.text(sql), bound)).mappings())
    if len(rows) <= page.limit:
        return rows, None
    rows = rows[: page.limit]
    last = rows[-1]
    return rows, encode_cursor(last["created_at"], last["seq"])
