"""Keyset pages in creation order: the first page, and the page after a row's key.

A keyset comparison on `(created_at, seq)` (unique, and the order rows arrive in) neither skips
nor repeats a row while others are added, and costs the same on the thousandth page as on the
first, where OFFSET would scan everything before it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Select, bindparam, tuple_

from podium.queries.statement import Statement


def by_creation(
    query: Select[Any], table: Any, *, limit: str = "page_limit", created: str = "created_at"
) -> tuple[Statement, Statement]:
    """(first page, page after `after_created_at`/`after_seq`) of `query`, ordered by `table`'s
    (`created`, seq), at most the parameter `limit` rows (`created`: the trash pages on
    `deleted_at`, when its rows came to be)."""
    key = (table.c[created], table.c.seq)
    rows = bindparam(limit, type_=Integer)
    after = tuple_(*key) > tuple_(
        bindparam("after_created_at", type_=DateTime(timezone=True)),
        bindparam("after_seq", type_=BigInteger),
    )
    return (
        Statement(query.order_by(*key).limit(rows)),
        Statement(query.where(after).order_by(*key).limit(rows)),
    )
