"""Every SQL statement the web app sends, as named functions per table or aggregate.

Statements are SQLAlchemy Core on the tables the ormar models declare, compiled once at import
(`statement.Statement`) and executed on asyncpg. Services call these functions; nothing outside
this package writes SQL (the backfill and the cutover tools, which run apart from the app, keep
their own).

A statement that breaks a constraint raises `IntegrityError`, one given a value PostgreSQL cannot
take `DataError` (both asyncpg's); `podium.db.violation` names the constraint and SQLSTATE for
the service to map to an API error.
"""

from asyncpg.exceptions import DataError
from asyncpg.exceptions import IntegrityConstraintViolationError as IntegrityError

__all__ = ["DataError", "IntegrityError"]
