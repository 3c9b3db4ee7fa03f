"""How attendees heard of an event: one line each, written when they join."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, insert

from podium.db import Transaction
from podium.models import Referral
from podium.queries.statement import Statement

referrals = Referral.ormar_config.table

_ADD = Statement(
    insert(referrals).values(
        content=bindparam("content"), user_id=bindparam("user_id"), event_id=bindparam("event_id")
    )
)


async def add(tx: Transaction, event_id: uuid.UUID, user_id: uuid.UUID, content: str) -> None:
    await _ADD.execute(tx, event_id=event_id, user_id=user_id, content=content)
