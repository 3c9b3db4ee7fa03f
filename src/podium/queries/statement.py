"""A Core statement compiled once for asyncpg, and run with named parameters."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from podium.db import database

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

    def args(self, params: dict[str, Any]) -> list[Any]:
        missing = self._required - params.keys()
        if missing:
            raise TypeError(f"missing statement parameters: {sorted(missing)}")
        return [params[name] if name in params else self._fixed[name] for name in self._names]

    async def fetch(self, **params: Any) -> list[asyncpg.Record]:
        return await database.fetch(self.sql, *self.args(params))

    async def fetchrow(self, **params: Any) -> asyncpg.Record | None:
        return await database.fetchrow(self.sql, *self.args(params))
