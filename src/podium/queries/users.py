"""Accounts, beyond the single-row reads and writes of podium.queries.rows."""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select

from podium.db import Executor
from podium.models import User
from podium.queries.statement import Statement

users = User.ormar_config.table

_EMAIL_EXISTS = Statement(select(exists().where(users.c.email == bindparam("email"))))


async def email_exists(db: Executor, email: str) -> bool:
    return bool(await _EMAIL_EXISTS.fetchval(db, email=email))
