"""A Core statement compiled once for asyncpg, and run with named parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from podium.db import Executor, Record

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # SQLAlchemy's own typing


class Statement:
    """`construct` as the SQL string asyncpg runs (`$n` parameters), built once.

    Compiling a Core construct costs far more than running the statement it describes on a
    warm connection; compiled at import, a request only orders its parameters.
    """

    def __init__(self, construct: ClauseElement) -> None:
        compiled = construct.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())
        # Values the construct carries itself (a LIMIT, a literal): bound at every run.
        self._fixed = {
            name: value for name, value in compiled.params.items() if name in self._names
        }
        self._required = frozenset(
            name for name, bind in compiled.binds.items() if bind.required and name in self._names
        )
        # Columns with a Python-side default (the models' `default=`) that an INSERT or UPDATE
        # leaves out: SQLAlchemy computes those at execution, so a run computes them here.
        prefetch = [*compiled.insert_prefetch, *compiled.update_prefetch]
        self._defaults: dict[str, Callable[[], Any]] = {
            column.key: _default_of(column, update=column in compiled.update_prefetch)
            for column in prefetch
        }

    def args(self, params: dict[str, Any]) -> list[Any]:
        missing = self._required - params.keys()
        if missing:
            raise TypeError(f"missing statement parameters: {sorted(missing)}")
        return [
            params[name]
            if name in params
            else self._defaults[name]()
            if name in self._defaults
            else self._fixed[name]
            for name in self._names
        ]

    async def fetch(self, db: Executor, **params: Any) -> list[Record]:
        return await db.fetch(self.sql, *self.args(params))

    async def fetchrow(self, db: Executor, **params: Any) -> Record | None:
        return await db.fetchrow(self.sql, *self.args(params))

    async def fetchval(self, db: Executor, **params: Any) -> Any:
        return await db.fetchval(self.sql, *self.args(params))

    async def execute(self, db: Executor, **params: Any) -> str:
        return await db.execute(self.sql, *self.args(params))


def _default_of(column: Column[Any], *, update: bool) -> Callable[[], Any]:
    default: Any = column.onupdate if update else column.default
    if default.is_callable:
        # SQLAlchemy wraps a callable default to take the execution context; none of ours reads it.
        return lambda: default.arg(None)
    if default.is_scalar:
        return lambda: default.arg
    raise TypeError(f"{column}: only scalar and callable Python-side defaults are supported")
