"""DATABASE_URL in the two forms the code needs, from whichever form it was given.

`postgresql://` (or Heroku-style `postgres://`) is what libpq, psql and asyncpg read;
`postgresql+asyncpg://` is SQLAlchemy's name for the same server with the asyncpg driver
(Alembic and ormar). Any of the three is accepted everywhere.
"""

from __future__ import annotations

_PLAIN = "postgresql://"
_SQLALCHEMY = "postgresql+asyncpg://"
_ACCEPTED = (_SQLALCHEMY, _PLAIN, "postgres://")


def _rest(url: str) -> str:
    for prefix in _ACCEPTED:
        if url.startswith(prefix):
            return url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL (postgresql://…): {url.split('://')[0]}://…")


def is_postgres_url(url: str) -> bool:
    return url.startswith(_ACCEPTED)


def plain_url(url: str) -> str:
    """The `postgresql://` form, for asyncpg and psql."""
    return _PLAIN + _rest(url)


def sqlalchemy_url(url: str) -> str:
    """The `postgresql+asyncpg://` form, for SQLAlchemy (Alembic, ormar)."""
    return _SQLALCHEMY + _rest(url)
