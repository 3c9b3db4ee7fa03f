"""The link-check queue (podium.models.link_check): enqueue, take, finish, re-check, read.

A job is taken with `FOR UPDATE SKIP LOCKED` and leased in the same statement (autocommit: the
row lock lasts that statement only; the lease in `locked_until` keeps other workers off it while
the check runs, outside any transaction). Finishing names the lease and the generation it took:
a worker whose lease ran out, or whose links changed under it, stores nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy
from sqlalchemy import Interval, bindparam, func, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert

from podium.db import Executor, Record, Transaction
from podium.models import Event, LinkCheck, Project
from podium.queries.statement import Statement

link_checks = LinkCheck.ormar_config.table
projects = Project.ormar_config.table
events = Event.ormar_config.table

_PROJECT = bindparam("project_id", type_=postgresql.UUID(as_uuid=True))
_LEASE = bindparam("lease_id", type_=postgresql.UUID(as_uuid=True))
_GENERATION = bindparam("generation", type_=sqlalchemy.BigInteger)
_NOW = func.now()

# What a new request sets: pending, due now, attempts from zero, a new generation. The lease is
# left alone: a worker checking the old links finds its generation gone when it finishes.
_REQUESTED: dict[str, Any] = {
    "status": "pending",
    "reasons": literal_column("'[]'::jsonb"),
    "requested_at": _NOW,
    "next_attempt_at": _NOW,
    "attempts": 0,
    "last_error": None,
}


def _upsert() -> Any:
    return insert(link_checks).values(project_id=_PROJECT, **_REQUESTED, generation=1)


_ENQUEUE = Statement(
    _upsert().on_conflict_do_update(
        index_elements=[link_checks.c.project_id],
        set_={**_REQUESTED, "generation": link_checks.c.generation + 1},
    )
)

# A re-check only when the last request is `min_interval` old; nothing returned means too soon.
_RECHECK = Statement(
    _upsert()
    .on_conflict_do_update(
        index_elements=[link_checks.c.project_id],
        set_={**_REQUESTED, "generation": link_checks.c.generation + 1},
        where=link_checks.c.requested_at <= _NOW - bindparam("min_interval", type_=Interval),
    )
    .returning(link_checks.c.project_id)
)
_RETRY_IN = Statement(
    select(
        func.ceil(
            func.extract(
                "epoch",
                link_checks.c.requested_at + bindparam("min_interval", type_=Interval) - _NOW,
            )
        )
    ).where(link_checks.c.project_id == _PROJECT)
)

_due = (
    select(link_checks.c.project_id)
    .where(
        link_checks.c.next_attempt_at <= _NOW,
        sqlalchemy.or_(link_checks.c.locked_until.is_(None), link_checks.c.locked_until < _NOW),
    )
    .order_by(link_checks.c.next_attempt_at)
    .limit(bindparam("batch", type_=sqlalchemy.Integer))
    .with_for_update(skip_locked=True)
    .cte("due")
)
_TAKE = Statement(
    update(link_checks)
    .where(link_checks.c.project_id == _due.c.project_id, projects.c.id == _due.c.project_id)
    .values(
        locked_until=_NOW + bindparam("lease_for", type_=Interval),
        lease=func.gen_random_uuid(),
        attempts=link_checks.c.attempts + 1,
    )
    .returning(
        link_checks.c.project_id,
        link_checks.c.lease,
        link_checks.c.generation,
        link_checks.c.attempts,
        projects.c.repo,
        projects.c.demo,
    )
)

_MINE = (
    link_checks.c.project_id == _PROJECT,
    link_checks.c.lease == _LEASE,
)
_RELEASED: dict[str, Any] = {"locked_until": None, "lease": None}
_FINISH = Statement(
    update(link_checks)
    .where(*_MINE, link_checks.c.generation == _GENERATION)
    .values(
        status=bindparam("new_status", type_=sqlalchemy.String),
        reasons=bindparam("new_reasons", type_=postgresql.JSONB),
        checked_at=_NOW,
        next_attempt_at=None,
        last_error=None,
        **_RELEASED,
    )
    .returning(link_checks.c.project_id)
)
_RETRY_LATER = Statement(
    update(link_checks)
    .where(*_MINE, link_checks.c.generation == _GENERATION)
    .values(
        next_attempt_at=_NOW + bindparam("delay", type_=Interval),
        last_error=bindparam("error_text", type_=sqlalchemy.Text),
        **_RELEASED,
    )
    .returning(link_checks.c.project_id)
)
# Superseded (new links, or a re-check, while this worker checked): the job stays due.
_RELEASE = Statement(update(link_checks).where(*_MINE).values(**_RELEASED))

VIEW_COLUMNS = (
    link_checks.c.status,
    link_checks.c.reasons,
    link_checks.c.checked_at,
    link_checks.c.requested_at,
)
_VIEW = Statement(select(*VIEW_COLUMNS).where(link_checks.c.project_id == _PROJECT))
_OWNERS = Statement(
    select(projects.c.owner_id, events.c.owner_id.label("event_owner_id"))
    .select_from(projects.join(events, events.c.id == projects.c.event_id))
    .where(projects.c.id == _PROJECT)
)
# For exports (#16's CSV) and the operators: every project of an event with its check, if any.
_OF_EVENT = Statement(
    select(projects.c.id.label("project_id"), projects.c.seq, *VIEW_COLUMNS)
    .select_from(projects.outerjoin(link_checks, link_checks.c.project_id == projects.c.id))
    .where(projects.c.event_id == bindparam("event_id", type_=postgresql.UUID(as_uuid=True)))
    .order_by(projects.c.created_at, projects.c.seq)
)


async def enqueue(tx: Transaction, project_id: uuid.UUID) -> None:
    """Queue a check of the project's links (in the transaction that changed them)."""
    await _ENQUEUE.execute(tx, project_id=project_id)


async def request_recheck(
    tx: Transaction, project_id: uuid.UUID, min_interval: timedelta
) -> int | None:
    """Queue a check unless one was asked for less than `min_interval` ago: None when queued,
    else the seconds until one may be."""
    queued = await _RECHECK.fetchval(tx, project_id=project_id, min_interval=min_interval)
    if queued is not None:
        return None
    seconds = await _RETRY_IN.fetchval(tx, project_id=project_id, min_interval=min_interval)
    return max(1, int(seconds or 1))


async def take(db: Executor, batch: int, lease_for: timedelta) -> list[Record]:
    """Up to `batch` due jobs, leased to the caller for `lease_for`, with the project's links."""
    return await _TAKE.fetch(db, batch=batch, lease_for=lease_for)


async def finish(
    db: Executor,
    project_id: uuid.UUID,
    lease: uuid.UUID,
    generation: int,
    status: str,
    reasons: list[dict[str, str]],
) -> bool:
    """Store a result; False (and the job left due) when the links changed meanwhile."""
    params = {"project_id": project_id, "lease_id": lease, "generation": generation}
    if await _FINISH.fetchval(db, new_status=status, new_reasons=reasons, **params) is not None:
        return True
    await _RELEASE.execute(db, project_id=project_id, lease_id=lease)
    return False


async def retry_later(
    db: Executor,
    project_id: uuid.UUID,
    lease: uuid.UUID,
    generation: int,
    delay: timedelta,
    error: str,
) -> None:
    """Give the job back, due again after `delay`."""
    params = {"project_id": project_id, "lease_id": lease, "generation": generation}
    if await _RETRY_LATER.fetchval(db, delay=delay, error_text=error, **params) is None:
        await _RELEASE.execute(db, project_id=project_id, lease_id=lease)


async def view(db: Executor, project_id: uuid.UUID) -> Record | None:
    return await _VIEW.fetchrow(db, project_id=project_id)


async def owners(db: Executor, project_id: uuid.UUID) -> Record | None:
    """The project's owner and its event's owner (who may ask for a re-check)."""
    return await _OWNERS.fetchrow(db, project_id=project_id)


async def of_event(db: Executor, event_id: uuid.UUID) -> list[Record]:
    """Every project of the event in submission order, with its check's columns (NULL when
    never checked)."""
    return await _OF_EVENT.fetch(db, event_id=event_id)
