"""Single rows of a model's table, as that ormar model: found by a unique column, created,
updated.

What `Model.objects.get_or_none(column=value)`, `.create()` and `instance.update()` do, on the
request's connection: ormar runs them on its own SQLAlchemy engine, and rebuilds each statement
on every call. Here a statement is built once per table and set of columns and run with asyncpg;
the row comes back as the model (ormar stays the shape the services pass around). Every
authenticated request and every path ID goes through `one_by`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import ormar
from sqlalchemy import bindparam, insert, select, update

from podium.db import Executor, Transaction
from podium.queries.statement import Statement

M = TypeVar("M", bound=ormar.Model)


def as_model(model: type[M], row: Mapping[str, Any]) -> M:
    """A row of `model`'s table (every column) as a saved instance of the model."""
    instance = model(**model.translate_aliases_to_columns(dict(row)))
    instance.set_save_status(True)
    return instance


@functools.cache
def _by_column(model: type[ormar.Model], column: str) -> Statement:
    table = model.ormar_config.table
    return Statement(select(*table.columns).where(table.c[column] == bindparam("value")))


@functools.cache
def _insert(model: type[ormar.Model], columns: tuple[str, ...]) -> Statement:
    table = model.ormar_config.table
    return Statement(
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .returning(*table.columns)
    )


@functools.cache
def _update(model: type[ormar.Model], columns: tuple[str, ...]) -> Statement:
    table = model.ormar_config.table
    return Statement(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .returning(*table.columns)
    )


async def one_by(db: Executor, model: type[M], column: str, value: object) -> M | None:
    """The row whose unique `column` equals `value`, or None."""
    row = await _by_column(model, column).fetchrow(db, value=value)
    return None if row is None else as_model(model, row)


async def create(tx: Transaction, model: type[M], values: Mapping[str, Any]) -> M:
    """Insert one row (the database fills in what `values` leaves out) and return it whole."""
    columns = tuple(sorted(values))
    row = await _insert(model, columns).fetchrow(tx, **values)
    assert row is not None  # INSERT … RETURNING returns the row it inserted
    return as_model(model, row)


async def change(
    tx: Transaction, model: type[M], row_id: uuid.UUID, values: Mapping[str, Any]
) -> M | None:
    """Set `values` on the row with this id and return it whole; None if it is gone."""
    columns = tuple(sorted(values))
    row = await _update(model, columns).fetchrow(tx, row_id=row_id, **values)
    return None if row is None else as_model(model, row)
