"""The trash (docs/trash.md): deleting an event or a project moves it, with every row under it,
into one `trash` entry; its owner or a superadmin restores it, `podium purge` removes it for
good after the retention period.

Moving the rows out (not flagging them) keeps every live read as it is: what is in the trash is
in no table a read, a vote count or a leaderboard looks at. Its slug and join codes stay
reserved (podium.queries.trash) so that a restore puts every row back with its own ids, seqs,
codes and timestamps.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from podium.db import Executor, Record, Transaction, violation
from podium.errors import ApiError, ErrorCode, conflict, not_found
from podium.ids import Entity
from podium.models import Event, Project, TrashEntry, User
from podium.models.audit import AuditAction, TargetKind
from podium.models.constraints import SqlState
from podium.public_ids import decode_id, public_id
from podium.queries import IntegrityError
from podium.queries import rows as model_rows
from podium.queries import trash as trash_rows
from podium.schemas.common import Page
from podium.schemas.trash import TrashEntry as TrashEntryView
from podium.schemas.trash import TrashRestored
from podium.services import audit, phases
from podium.services.access import max_votes_per_user
from podium.services.pagination import PageRequest, encode_cursor

# A moved row as `rows` holds it: JSON, ids and timestamps as strings.
Row = dict[str, Any]


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


async def _store(
    tx: Transaction,
    *,
    kind: str,
    item: Row,
    event_id: uuid.UUID,
    event_seq: int,
    deleted_by: User,
    retention: timedelta,
    taken: dict[str, list[Row]],
    reserved: list[tuple[str, str]],
) -> TrashEntry:
    now = datetime.now(UTC)
    entry = await model_rows.create(
        tx,
        TrashEntry,
        {
            "kind": kind,
            "item_id": _uuid(item["id"]),
            "item_seq": item["seq"],
            "name": item["name"],
            "event_id": event_id,
            "event_seq": event_seq,
            "owner_id": _uuid(item["owner_id"]),
            "deleted_by": deleted_by.pk,
            "deleted_at": now,
            "purge_after": now + retention,
            "rows": taken,
        },
    )
    await trash_rows.reserve(tx, entry.pk, reserved)
    return entry


async def trash_event(tx: Transaction, event: Event, by: User, retention: timedelta) -> None:
    """Move the event and everything under it to the trash (the caller may organise it)."""
    # Exclusive first: no slug or join code is being chosen while these become reserved.
    await trash_rows.lock_values_exclusive(tx)
    # FOR UPDATE: every insert under the event (a join, a project, a vote) waits on its key,
    # so nothing is added between the move of a table and the delete of the event.
    if not await trash_rows.lock_event(tx, event.pk):
        raise not_found("event")  # deleted meanwhile
    taken = await trash_rows.take(tx, "event", event.pk)
    (row,) = taken["events"]
    reserved = [("event_slug", row["slug"]), ("event_join_code", row["join_code"])]
    reserved += [("project_join_code", project["join_code"]) for project in taken["projects"]]
    entry = await _store(
        tx,
        kind="event",
        item=row,
        event_id=event.pk,
        event_seq=row["seq"],
        deleted_by=by,
        retention=retention,
        taken=taken,
        reserved=reserved,
    )
    await trash_rows.adopt_projects(tx, entry.pk, event.pk)


async def trash_project(
    tx: Transaction, project: Project, by: User, retention: timedelta, event_seq: int
) -> None:
    """Move the project, its collaborators, link check and votes to the trash. The caller has
    checked who may (and taken the reservations' lock, before the event's share lock)."""
    taken = await trash_rows.take(tx, "project", project.pk)
    if not taken["projects"]:
        raise not_found("project")  # deleted meanwhile
    (row,) = taken["projects"]
    await _store(
        tx,
        kind="project",
        item=row,
        event_id=project.event.pk,
        event_seq=event_seq,
        deleted_by=by,
        retention=retention,
        taken=taken,
        reserved=[("project_join_code", row["join_code"])],
    )


# --- restore --------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    """The rows a restore inserts, per table, and what it leaves out."""

    rows: dict[str, list[Row]]
    skipped: dict[str, int] = field(default_factory=dict)
    votes_over_limit: int = 0
    projects_handed_over: int = 0

    def skip(self, table: str, count: int = 1) -> None:
        if count:
            self.skipped[table] = self.skipped.get(table, 0) + count


def _created(row: Row) -> tuple[datetime, int]:
    return datetime.fromisoformat(row["created_at"]), row["seq"]


_USER_COLUMNS = {
    "events": "owner_id",
    "event_attendees": "user_id",
    "referrals": "user_id",
    "projects": "owner_id",
    "project_collaborators": "user_id",
    "votes": "voter_id",
}


def referenced_users(taken: Mapping[str, list[Row]]) -> set[uuid.UUID]:
    return {
        _uuid(row[column])
        for table, column in _USER_COLUMNS.items()
        for row in taken.get(table, [])
    }


def plan_restore(
    kind: str,
    taken: Mapping[str, list[Row]],
    *,
    users_alive: set[uuid.UUID],
    attending: set[uuid.UUID],
    votes_already: Mapping[uuid.UUID, int],
    live_projects: int,
) -> RestorePlan:
    """What to put back: rows of deleted accounts left out, a project without its owner passed
    to its first remaining collaborator (an event's project with none is left out; a project
    entry answers 409), votes over the voter's limit dropped.

    `attending`, `votes_already` and `live_projects` describe the live event (empty for an
    event restore, whose event has no live rows).
    """
    plan = RestorePlan(rows={table: list(taken.get(table, [])) for table in taken})

    def alive(row: Row, column: str) -> bool:
        return _uuid(row[column]) in users_alive

    for table in ("event_attendees", "referrals", "project_collaborators"):
        if table in plan.rows:
            kept = [row for row in plan.rows[table] if alive(row, _USER_COLUMNS[table])]
            plan.skip(table, len(plan.rows[table]) - len(kept))
            plan.rows[table] = kept

    collaborators = plan.rows["project_collaborators"]
    kept_projects: list[Row] = []
    for project in plan.rows["projects"]:
        if alive(project, "owner_id"):
            kept_projects.append(project)
            continue
        team = sorted(
            (row for row in collaborators if row["project_id"] == project["id"]), key=_created
        )
        if not team:
            if kind == "project":
                raise conflict(
                    ErrorCode.PROJECT_OWNER_GONE,
                    "the project's owner has deleted their account and it has no collaborator "
                    "left to pass it to",
                )
            plan.skip("projects")
            continue
        heir = team[0]
        # As an account deletion hands over a live team project: the heir owns it and is no
        # longer one of its collaborators.
        kept_projects.append({**project, "owner_id": heir["user_id"]})
        collaborators.remove(heir)
        plan.projects_handed_over += 1
    plan.rows["projects"] = kept_projects

    kept_ids = {project["id"] for project in kept_projects}
    for table in ("project_collaborators", "link_checks"):
        kept = [row for row in plan.rows[table] if row["project_id"] in kept_ids]
        plan.skip(table, len(plan.rows[table]) - len(kept))
        plan.rows[table] = kept

    voters_attending = attending | {
        _uuid(row["user_id"]) for row in plan.rows.get("event_attendees", [])
    }
    limit = max_votes_per_user(live_projects + len(kept_projects))
    by_voter: dict[uuid.UUID, list[Row]] = {}
    for vote in plan.rows["votes"]:
        voter = _uuid(vote["voter_id"])
        if voter in voters_attending and vote["project_id"] in kept_ids:
            by_voter.setdefault(voter, []).append(vote)
        else:
            plan.skip("votes")
    kept_votes: list[Row] = []
    for voter, cast in by_voter.items():
        room = max(limit - votes_already.get(voter, 0), 0)
        cast.sort(key=_created)
        kept_votes += cast[:room]
        plan.votes_over_limit += len(cast[room:])
    plan.rows["votes"] = kept_votes
    return plan


def _event_in_trash() -> ApiError:
    return conflict(
        ErrorCode.EVENT_IN_TRASH,
        "the project's event is in the trash: restore the event first",
    )


async def _entry(tx: Transaction, trash_id: str, caller: User, *, any_owner: bool) -> Record:
    seq = decode_id(Entity.TRASH, trash_id)
    entry = await trash_rows.entry_locked(tx, seq) if seq is not None else None
    # Someone else's entry answers as a missing one: its existence is not the caller's business.
    if entry is None or (not any_owner and entry["owner_id"] != caller.pk):
        raise not_found("trash entry")
    return entry


async def restore(
    tx: Transaction, trash_id: str, caller: User, *, any_owner: bool
) -> TrashRestored:
    """Put the entry's rows back as they were (its owner's, or any entry for a superadmin)."""
    await trash_rows.lock_values_exclusive(tx)
    entry = await _entry(tx, trash_id, caller, any_owner=any_owner)
    kind, event_id = entry["kind"], entry["event_id"]
    taken: dict[str, list[Row]] = entry["rows"]
    attending: set[uuid.UUID] = set()
    votes_already: dict[uuid.UUID, int] = {}
    live_projects = 0
    if kind == "project":
        if entry["parent_id"] is not None:
            raise _event_in_trash()
        # Locked against votes and project changes: the vote limit read below holds.
        event = await trash_rows.event_alive(tx, event_id)
        if event is None:
            raise _event_in_trash()
        if not caller.is_superadmin:
            # The owner restores while they could have created it; a superadmin at any time.
            phases.require_project_changes_open(
                event["phase"], event["submissions_open_during_voting"]
            )
        attending = await trash_rows.attending(tx, event_id)
        votes_already = await trash_rows.votes_per_voter(tx, event_id)
        live_projects = await trash_rows.project_count(tx, event_id)
    users_alive = await trash_rows.existing_users(tx, sorted(referenced_users(taken)))
    plan = plan_restore(
        kind,
        taken,
        users_alive=users_alive,
        attending=attending,
        votes_already=votes_already,
        live_projects=live_projects,
    )
    try:
        restored = {
            table: await trash_rows.put(tx, table, plan.rows[table])
            for table in trash_rows.KIND_TABLES[kind]
        }
    except IntegrityError as error:
        sqlstate = violation(error).sqlstate
        if sqlstate == SqlState.FOREIGN_KEY_VIOLATION:
            # An account the rows name was deleted after it was looked up: a retry skips it.
            raise conflict(
                ErrorCode.RESTORE_CONFLICT,
                "an account this entry refers to was deleted meanwhile; try again",
            ) from None
        if sqlstate != SqlState.UNIQUE_VIOLATION:
            raise
        # The reservations keep the API's writers off these values; only a writer outside it
        # (the backfill writing a new v1 record) can have taken one.
        raise conflict(
            ErrorCode.RESTORE_CONFLICT,
            "a live row has taken a unique value of this entry (a slug or join code)",
        ) from None
    if kind == "event":
        await trash_rows.bump_revisions(tx, event_id)
        await trash_rows.release_projects(tx, entry["id"])
    await trash_rows.delete_entry(tx, entry["id"])
    await _audit(
        tx,
        caller,
        entry,
        AuditAction.EVENT_RESTORED if kind == "event" else AuditAction.PROJECT_RESTORED,
        {
            "restored": restored,
            "skipped": plan.skipped,
            "votes_over_limit": plan.votes_over_limit,
        },
    )
    return TrashRestored(
        id=public_id(Entity.TRASH, entry["seq"]),
        kind=kind,
        event_id=public_id(Entity.EVENT, entry["event_seq"]),
        project_id=public_id(Entity.PROJECT, entry["item_seq"]) if kind == "project" else None,
        restored=restored,
        skipped=plan.skipped,
        votes_over_limit=plan.votes_over_limit,
        projects_handed_over=plan.projects_handed_over,
    )


async def purge(tx: Transaction, trash_id: str, caller: User) -> None:
    """Remove the entry for good now (a superadmin's), with its event's project entries."""
    entry = await _entry(tx, trash_id, caller, any_owner=True)
    await trash_rows.delete_entry(tx, entry["id"])
    await _audit(tx, caller, entry, AuditAction.TRASH_PURGED, {"name": [entry["name"], None]})


async def _audit(
    tx: Transaction, caller: User, entry: Record, action: AuditAction, changes: dict[str, Any]
) -> None:
    """Record a restore or purge in the event's trail when the caller organises the event (its
    owner or a superadmin): a participant putting back their own project is not an organiser's
    action. The event's name is read where it is now (live, or in the trash)."""
    event = await trash_rows.event_for_audit(tx, entry["event_id"])
    if event is None:  # purged with its event's entry (only a project's entry can be)
        return
    if not (caller.is_superadmin or caller.pk == event["owner_id"]):
        return
    await audit.record(
        tx,
        audit.Actor.organiser_of(caller, event["owner_id"]),
        action,
        event=audit.AuditedEvent(entry["event_id"], entry["event_seq"], event["name"]),
        target=(TargetKind.PROJECT, entry["item_seq"]) if entry["kind"] == "project" else None,
        changes=changes,
    )


# --- lists and the scheduled purge -----------------------------------------------------------


def _view(row: Mapping[str, Any]) -> TrashEntryView:
    return TrashEntryView(
        id=public_id(Entity.TRASH, row["seq"]),
        kind=row["kind"],
        name=row["name"],
        event_id=public_id(Entity.EVENT, row["event_seq"]),
        project_id=public_id(Entity.PROJECT, row["item_seq"]) if row["kind"] == "project" else None,
        owner_id=public_id(Entity.USER, row["owner_seq"]),
        deleted_by=None
        if row["deleted_by_seq"] is None
        else public_id(Entity.USER, row["deleted_by_seq"]),
        deleted_at=row["deleted_at"],
        purge_after=row["purge_after"],
        restorable=not row["inside_trashed_event"],
        rows=row["counts"] or {},
    )


async def entries(db: Executor, owner: User | None, page: PageRequest) -> Page[TrashEntryView]:
    """One page of the trash in deletion order: `owner`'s entries, or all for None."""
    after = None if page.after is None else (page.after.created_at, page.after.seq)
    found = await trash_rows.page(db, None if owner is None else owner.pk, page.limit + 1, after)
    cursor = None
    if len(found) > page.limit:
        found = found[: page.limit]
        cursor = encode_cursor(found[-1]["deleted_at"], found[-1]["seq"])
    return Page[TrashEntryView](items=[_view(row) for row in found], next_cursor=cursor)


@dataclass(frozen=True)
class Purged:
    id: str
    kind: str
    item_id: str
    name: str


async def purge_due(tx: Transaction, now: datetime, *, dry_run: bool) -> list[Purged]:
    """The entries past their purge_after (and their events' project entries), removed unless
    `dry_run`."""
    due = await trash_rows.due(tx, now)
    if not dry_run and due:
        await trash_rows.delete_entries(tx, [row["id"] for row in due])
    return [
        Purged(
            id=public_id(Entity.TRASH, row["seq"]),
            kind=row["kind"],
            item_id=public_id(
                Entity.EVENT if row["kind"] == "event" else Entity.PROJECT, row["item_seq"]
            ),
            name=row["name"],
        )
        for row in due
    ]
