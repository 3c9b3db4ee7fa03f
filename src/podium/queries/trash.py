"""The trash's statements: moving an event or a project out of the live tables (every row
under it, every column, as JSON), putting them back, the reservations of their unique values,
the lists and the purge (podium.services.trash, docs/trash.md).

The moved tables and their columns come from the models: a column added to a model is moved
and restored with no change here (tests/api/test_trash.py compares every row of every table
after a round trip).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from podium.db import Executor, Record, Transaction
from podium.models import (
    Event,
    EventAttendee,
    EventRevision,
    LinkCheck,
    Project,
    ProjectCollaborator,
    Referral,
    TrashEntry,
    TrashReservation,
    User,
    Vote,
)
from podium.queries.keyset import by_creation
from podium.queries.statement import Statement

trash = TrashEntry.ormar_config.table
reservations = TrashReservation.ormar_config.table
users = User.ormar_config.table
events = Event.ormar_config.table
projects = Project.ormar_config.table
attendees = EventAttendee.ormar_config.table
votes = Vote.ormar_config.table
revisions = EventRevision.ormar_config.table

_UUID = postgresql.UUID(as_uuid=True)
_EVENT = bindparam("event_id", type_=_UUID)
_PROJECT = bindparam("project_id", type_=_UUID)

# The one advisory lock between the writers of slugs and join codes and the trash. A writer
# takes it shared before it checks the reservations and holds it to its commit; a trash move
# or a restore takes it exclusive. Without it a creation could check "not reserved" while a
# trash move deletes the live row holding the value: the creation's insert, waiting on the
# unique index, would then succeed, and the restore collide. Taken first by both sides, before
# any row lock, so it can never be part of a deadlock cycle.
RESERVATIONS_LOCK_KEY = 0x706F6469756D7472  # "podiumtr"

_LOCK_SHARED = Statement(
    select(func.pg_advisory_xact_lock_shared(literal(RESERVATIONS_LOCK_KEY, BigInteger)))
)
_LOCK_EXCLUSIVE = Statement(
    select(func.pg_advisory_xact_lock(literal(RESERVATIONS_LOCK_KEY, BigInteger)))
)


def _projects_of_event() -> Any:
    return select(projects.c.id).where(projects.c.event_id == _EVENT)


@dataclass(frozen=True)
class Moved:
    """A table whose rows go with a trashed event (and a trashed project, if `of_project`)."""

    table: Table
    of_event: ColumnElement[bool]
    of_project: ColumnElement[bool] | None


# Every table with a key to events or projects, parents first (the restore's insert order; the
# move deletes in the reverse). event_revisions moves too, so the ETag counters continue from
# where they were instead of restarting (a restarted counter could repeat an old ETag).
MOVED: tuple[Moved, ...] = (
    Moved(events, events.c.id == _EVENT, None),
    Moved(revisions, revisions.c.event_id == _EVENT, None),
    Moved(attendees, attendees.c.event_id == _EVENT, None),
    Moved(Referral.ormar_config.table, Referral.ormar_config.table.c.event_id == _EVENT, None),
    Moved(projects, projects.c.event_id == _EVENT, projects.c.id == _PROJECT),
    Moved(
        collaborators := ProjectCollaborator.ormar_config.table,
        collaborators.c.project_id.in_(_projects_of_event()),
        collaborators.c.project_id == _PROJECT,
    ),
    Moved(
        link_checks := LinkCheck.ormar_config.table,
        link_checks.c.project_id.in_(_projects_of_event()),
        link_checks.c.project_id == _PROJECT,
    ),
    Moved(votes, votes.c.event_id == _EVENT, votes.c.project_id == _PROJECT),
)
MOVED_TABLES = {moved.table.name: moved.table for moved in MOVED}
KIND_TABLES = {
    "event": tuple(moved.table.name for moved in MOVED),
    "project": tuple(moved.table.name for moved in MOVED if moved.of_project is not None),
}


def _take(table: Table, where: ColumnElement[bool]) -> Statement:
    """DELETE the rows and return them as one JSON array of objects, every column by name."""
    gone = delete(table).where(where).returning(*table.columns).cte("gone")
    pairs: list[Any] = []
    for column in table.columns:
        # Column names are identifiers of our own models: safe as literals, and no parameter
        # whose type asyncpg would have to guess.
        pairs += [literal_column(f"'{column.name}'"), gone.c[column.name]]
    key = gone.c[next(iter(table.primary_key.columns)).name]
    return Statement(
        select(
            func.coalesce(
                func.jsonb_agg(postgresql.aggregate_order_by(func.jsonb_build_object(*pairs), key)),
                literal_column("'[]'::jsonb"),
            )
        ).select_from(gone)
    )


def _put(table: Table) -> Statement:
    """INSERT the rows of a JSON array as `_take` made it, every column as it was."""
    names = [column.name for column in table.columns]
    given = (
        func.jsonb_populate_recordset(
            literal_column(f"NULL::{table.name}"), bindparam("rows", type_=postgresql.JSONB)
        )
        # No column list after the alias: the record's columns come by name from the table's
        # type, in the database's order, which need not be the model's.
        .table_valued(*names)
        .alias("given")
    )
    return Statement(insert(table).from_select(names, select(*(given.c[name] for name in names))))


_TAKE = {
    "event": {moved.table.name: _take(moved.table, moved.of_event) for moved in MOVED},
    "project": {
        moved.table.name: _take(moved.table, moved.of_project)
        for moved in MOVED
        if moved.of_project is not None
    },
}
_PUT = {moved.table.name: _put(moved.table) for moved in MOVED}

_EVENT_FOR_TRASH = Statement(select(events.c.id).where(events.c.id == _EVENT).with_for_update())
_IS_RESERVED = Statement(
    select(
        exists().where(
            reservations.c.kind == bindparam("kind", type_=String),
            reservations.c.value == bindparam("value", type_=String),
        )
    )
)
_pairs = (
    func.unnest(
        bindparam("kinds", type_=postgresql.ARRAY(String)),
        bindparam("values", type_=postgresql.ARRAY(String)),
    )
    .table_valued("kind", "value")
    .render_derived()
    .alias("reserved")
)
_RESERVE = Statement(
    insert(reservations).from_select(
        ["id", "trash_id", "kind", "value"],
        # The id from the database, one per row: the model's default is one Python value.
        select(
            func.gen_random_uuid(),
            bindparam("trash_id", type_=_UUID),
            _pairs.c.kind,
            _pairs.c.value,
        ),
    )
)
# A project trashed on its own before its event: purged with the event's entry, restorable only
# once the event is back.
_ADOPT = Statement(
    update(trash)
    .where(
        trash.c.kind == "project",
        trash.c.event_id == _EVENT,
        trash.c.id != bindparam("trash_id", type_=_UUID),
    )
    .values(parent_id=bindparam("trash_id", type_=_UUID))
)
_RELEASE = Statement(
    update(trash)
    .where(trash.c.parent_id == bindparam("trash_id", type_=_UUID))
    .values(parent_id=None)
)
_ENTRY_LOCKED = Statement(
    select(*trash.columns).where(trash.c.seq == bindparam("seq")).with_for_update()
)
_DELETE_ENTRY = Statement(
    delete(trash).where(trash.c.id == bindparam("trash_id", type_=_UUID)).returning(trash.c.id)
)
_EXISTING_USERS = Statement(
    select(users.c.id).where(
        users.c.id == func.any(bindparam("ids", type_=postgresql.ARRAY(_UUID)))
    )
)
_EVENT_ALIVE = Statement(
    select(
        events.c.id,
        events.c.seq,
        events.c.name,
        events.c.owner_id,
        events.c.phase,
        events.c.submissions_open_during_voting,
    )
    .where(events.c.id == _EVENT)
    .with_for_update(key_share=True)
)
# The event's name and owner for the audit trail, live or in the trash.
_EVENT_FOR_AUDIT = Statement(
    select(events.c.name, events.c.owner_id)
    .where(events.c.id == _EVENT)
    .union_all(
        select(trash.c.name, trash.c.owner_id).where(
            trash.c.item_id == _EVENT, trash.c.kind == "event"
        )
    )
    .limit(1)
)
_PROJECT_COUNT = Statement(
    select(func.count()).select_from(projects).where(projects.c.event_id == _EVENT)
)
_ATTENDING = Statement(select(attendees.c.user_id).where(attendees.c.event_id == _EVENT))
_VOTES_PER_VOTER = Statement(
    select(votes.c.voter_id, func.count().label("votes"))
    .where(votes.c.event_id == _EVENT)
    .group_by(votes.c.voter_id)
)
# A restore moves the event's ETags even when no trigger fires (an event without projects).
_BUMP_REVISIONS = Statement(
    postgresql.insert(revisions)
    .values(event_id=_EVENT, content_revision=1, votes_revision=1)
    .on_conflict_do_update(
        index_elements=[revisions.c.event_id],
        set_={
            "content_revision": revisions.c.content_revision + 1,
            "votes_revision": revisions.c.votes_revision + 1,
        },
    )
)

# The lists: an entry with its owner's and deleter's public IDs and how many rows it holds per
# table (read in the database: `rows` itself never leaves it for a list).
_owner = users.alias("owner")
_deleter = users.alias("deleter")
_each = func.jsonb_each(trash.c.rows).table_valued("key", "value").render_derived().alias("each")
_LISTED = select(
    trash.c.seq,
    trash.c.kind,
    trash.c.item_seq,
    trash.c.name,
    trash.c.deleted_at,
    trash.c.purge_after,
    trash.c.event_seq,
    trash.c.parent_id.is_not(None).label("inside_trashed_event"),
    select(func.jsonb_object_agg(_each.c.key, func.jsonb_array_length(_each.c.value)))
    .select_from(_each)
    .scalar_subquery()
    .label("counts"),
    _owner.c.seq.label("owner_seq"),
    _deleter.c.seq.label("deleted_by_seq"),
).select_from(
    trash.join(_owner, _owner.c.id == trash.c.owner_id).outerjoin(
        _deleter, _deleter.c.id == trash.c.deleted_by
    )
)
_ALL = by_creation(_LISTED, trash, created="deleted_at")
_OWNED = by_creation(
    _LISTED.where(trash.c.owner_id == bindparam("owner_id", type_=_UUID)),
    trash,
    created="deleted_at",
)
_DUE = Statement(
    select(trash.c.id, trash.c.seq, trash.c.kind, trash.c.item_seq, trash.c.name)
    .where(
        sqlalchemy.or_(
            trash.c.purge_after <= bindparam("now", type_=sqlalchemy.DateTime(timezone=True)),
            trash.c.parent_id.in_(
                select(trash.c.id).where(
                    trash.c.purge_after
                    <= bindparam("now", type_=sqlalchemy.DateTime(timezone=True))
                )
            ),
        )
    )
    .order_by(trash.c.deleted_at, trash.c.seq)
)
_DELETE_ENTRIES = Statement(
    delete(trash)
    .where(trash.c.id == func.any(bindparam("ids", type_=postgresql.ARRAY(_UUID))))
    .returning(trash.c.id)
)
# What the backfill and verify must leave alone: the v1 record ids of every trashed row.
_JSON = postgresql.JSONB
_entry_rows = (
    func.jsonb_each(trash.c.rows)
    .table_valued(sqlalchemy.column("key", String), sqlalchemy.column("value", _JSON))
    .render_derived()
)
_record = (
    func.jsonb_array_elements(_entry_rows.c.value)
    .table_valued(sqlalchemy.column("value", _JSON))
    .render_derived()
)
_TRASHED_RECORD_IDS = Statement(
    select(_entry_rows.c.key.label("table_name"), _record.c.value["airtable_id"].astext)
    .select_from(trash)
    .join(_entry_rows, sqlalchemy.true())
    .join(_record, sqlalchemy.true())
    .where(_record.c.value["airtable_id"].astext.is_not(None))
)


async def lock_values_shared(tx: Transaction) -> None:
    """Before a slug or join code is chosen: no trash move or restore runs until `tx` ends."""
    await _LOCK_SHARED.execute(tx)


async def lock_values_exclusive(tx: Transaction) -> None:
    """Before a trash move or restore: every value writer in flight has committed."""
    await _LOCK_EXCLUSIVE.execute(tx)


async def is_reserved(db: Executor, kind: str, value: str) -> bool:
    return bool(await _IS_RESERVED.fetchval(db, kind=kind, value=value))


async def lock_event(tx: Transaction, event_id: uuid.UUID) -> bool:
    """Lock the event FOR UPDATE (every insert under it waits); False if it is gone."""
    return await _EVENT_FOR_TRASH.fetchval(tx, event_id=event_id) is not None


async def take(tx: Transaction, kind: str, item_id: uuid.UUID) -> dict[str, list[Any]]:
    """Delete the event's or project's rows, children first; every row as it was, per table."""
    params = {"event_id": item_id} if kind == "event" else {"project_id": item_id}
    taken: dict[str, list[Any]] = {}
    for name in reversed(KIND_TABLES[kind]):
        taken[name] = await _TAKE[kind][name].fetchval(tx, **params)
    return {name: taken[name] for name in KIND_TABLES[kind]}


async def put(tx: Transaction, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert `rows` (as `take` returned them) into `table`; how many."""
    if not rows:
        return 0
    status = await _PUT[table].execute(tx, rows=list(rows))
    return int(status.rsplit(" ", 1)[-1])


async def reserve(tx: Transaction, trash_id: uuid.UUID, values: Sequence[tuple[str, str]]) -> None:
    await _RESERVE.execute(
        tx,
        trash_id=trash_id,
        kinds=[kind for kind, _ in values],
        values=[value for _, value in values],
    )


async def adopt_projects(tx: Transaction, trash_id: uuid.UUID, event_id: uuid.UUID) -> None:
    await _ADOPT.execute(tx, trash_id=trash_id, event_id=event_id)


async def release_projects(tx: Transaction, trash_id: uuid.UUID) -> None:
    await _RELEASE.execute(tx, trash_id=trash_id)


async def entry_locked(tx: Transaction, seq: int) -> Record | None:
    """The entry (every column, `rows` decoded), locked until `tx` ends."""
    return await _ENTRY_LOCKED.fetchrow(tx, seq=seq)


async def delete_entry(tx: Transaction, trash_id: uuid.UUID) -> bool:
    """Delete the entry, its reservations and the entries of its event's projects (CASCADE)."""
    return await _DELETE_ENTRY.fetchval(tx, trash_id=trash_id) is not None


async def existing_users(db: Executor, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    return {row["id"] for row in await _EXISTING_USERS.fetch(db, ids=list(ids))}


async def event_alive(tx: Transaction, event_id: uuid.UUID) -> Record | None:
    """(id, seq, name, owner_id, phase, submissions_open_during_voting) of a live event, locked
    against votes and project changes until `tx` ends."""
    return await _EVENT_ALIVE.fetchrow(tx, event_id=event_id)


async def event_for_audit(db: Executor, event_id: uuid.UUID) -> Record | None:
    """(name, owner_id) of the event, live or in the trash; None once purged."""
    return await _EVENT_FOR_AUDIT.fetchrow(db, event_id=event_id)


async def project_count(db: Executor, event_id: uuid.UUID) -> int:
    return int(await _PROJECT_COUNT.fetchval(db, event_id=event_id))


async def attending(db: Executor, event_id: uuid.UUID) -> set[uuid.UUID]:
    return {row["user_id"] for row in await _ATTENDING.fetch(db, event_id=event_id)}


async def votes_per_voter(db: Executor, event_id: uuid.UUID) -> dict[uuid.UUID, int]:
    return {
        row["voter_id"]: row["votes"] for row in await _VOTES_PER_VOTER.fetch(db, event_id=event_id)
    }


async def bump_revisions(tx: Transaction, event_id: uuid.UUID) -> None:
    await _BUMP_REVISIONS.execute(tx, event_id=event_id)


async def page(
    db: Executor, owner_id: uuid.UUID | None, limit: int, after: tuple[datetime, int] | None
) -> list[Record]:
    """Entries in deletion order (an owner's, or all for `owner_id` None), after `after`."""
    first, following = _ALL if owner_id is None else _OWNED
    params: dict[str, Any] = {"page_limit": limit}
    if owner_id is not None:
        params["owner_id"] = owner_id
    if after is None:
        return await first.fetch(db, **params)
    return await following.fetch(db, **params, after_created_at=after[0], after_seq=after[1])


async def due(db: Executor, now: datetime) -> list[Record]:
    """Entries whose purge_after has passed, and the entries of their events' projects."""
    return await _DUE.fetch(db, now=now)


async def delete_entries(tx: Transaction, ids: Sequence[uuid.UUID]) -> int:
    return len(await _DELETE_ENTRIES.fetch(tx, ids=list(ids)))


async def trashed_record_ids(db: Executor) -> dict[str, set[str]]:
    """{table: v1 record ids} of every row in the trash."""
    found: dict[str, set[str]] = {}
    for row in await _TRASHED_RECORD_IDS.fetch(db):
        found.setdefault(row[0], set()).add(row[1])
    return found
