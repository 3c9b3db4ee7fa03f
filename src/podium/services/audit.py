"""The audit trail: recording an organiser's or superadmin's action, and reading the trail.

Recording is one call, `record(tx, actor, action, event=…, …)`, made with the transaction of the
change itself: a change that rolls back (a 409, a 422, a lost connection) leaves no entry, and
an entry never claims a change that did not happen.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podium.db import Executor, Transaction
from podium.ids import Entity
from podium.models import Event, User
from podium.models.audit import ActorRole, AuditAction, TargetKind
from podium.public_ids import public_id
from podium.queries import audit as audit_rows
from podium.schemas.audit import AuditActor, AuditEntry, AuditEventRef
from podium.schemas.common import Page
from podium.services.pagination import PageRequest, encode_cursor

# Fields whose values never enter the trail: anyone reading it could use them.
REDACTED_FIELDS = frozenset({"join_code"})
REDACTED = "changed"

_TARGET_ENTITY = {TargetKind.USER: Entity.USER, TargetKind.PROJECT: Entity.PROJECT}


@dataclass(frozen=True)
class Actor:
    """Who acted, copied into the entry as they were at the time."""

    role: ActorRole
    user_id: uuid.UUID | None = None
    seq: int | None = None
    email: str | None = None

    @classmethod
    def organiser(cls, user: User, event: Event) -> Actor:
        """The caller of an organiser route: the event's owner, else a superadmin."""
        return cls.organiser_of(user, event.owner.pk)

    @classmethod
    def organiser_of(cls, user: User, owner_id: uuid.UUID) -> Actor:
        """`organiser` for an event known by its owner's id."""
        role = ActorRole.OWNER if user.pk == owner_id else ActorRole.SUPERADMIN
        return cls(role, user.pk, user.seq, user.email)

    @classmethod
    def superadmin(cls, user: User) -> Actor:
        return cls(ActorRole.SUPERADMIN, user.pk, user.seq, user.email)


CLI = Actor(ActorRole.CLI)


@dataclass(frozen=True)
class AuditedEvent:
    """The event an entry is about, by copy: the entry outlives the event."""

    id: uuid.UUID
    seq: int
    name: str

    @classmethod
    def of(cls, event: Event, name: str | None = None) -> AuditedEvent:
        return cls(event.pk, event.seq, event.name if name is None else name)


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for each field of `new` whose value differs from `old`'s."""
    return {name: [old.get(name), value] for name, value in new.items() if old.get(name) != value}


def _redacted(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: REDACTED if name in REDACTED_FIELDS else value for name, value in changes.items()}


async def record(
    tx: Transaction,
    actor: Actor,
    action: AuditAction,
    *,
    event: AuditedEvent | None = None,
    target: tuple[TargetKind, int] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> None:
    """Add an entry to the trail, in `tx`: it commits, or rolls back, with the change."""
    target_kind, target_seq = target if target is not None else (None, None)
    await audit_rows.add(
        tx,
        {
            "actor_id": actor.user_id,
            "actor_seq": actor.seq,
            "actor_email": actor.email,
            "actor_role": actor.role.value,
            "event_id": event.id if event else None,
            "event_seq": event.seq if event else None,
            "event_name": event.name if event else None,
            "action": action.value,
            "target_kind": target_kind.value if target_kind else None,
            "target_seq": target_seq,
            "changes": _redacted(changes or {}),
        },
    )


def _entry(row: Mapping[str, Any]) -> AuditEntry:
    kind = TargetKind(row["target_kind"]) if row["target_kind"] else None
    return AuditEntry(
        at=row["created_at"],
        action=AuditAction(row["action"]),
        actor=AuditActor(
            id=public_id(Entity.USER, row["actor_seq"]) if row["actor_seq"] else None,
            email=row["actor_email"],
            role=ActorRole(row["actor_role"]),
        ),
        event=AuditEventRef(id=public_id(Entity.EVENT, row["event_seq"]), name=row["event_name"])
        if row["event_seq"]
        else None,
        target_kind=kind,
        target=public_id(_TARGET_ENTITY[kind], row["target_seq"]) if kind else None,
        changes=row["changes"],
    )


async def trail(
    db: Executor,
    page: PageRequest,
    *,
    event_seq: int | None = None,
    actor_seq: int | None = None,
    action: AuditAction | None = None,
) -> Page[AuditEntry]:
    """One page of the entries matching every filter given, oldest first."""
    after = None if page.after is None else (page.after.created_at, page.after.seq)
    filters = {
        "event_seq": event_seq,
        "actor_seq": actor_seq,
        "action": action.value if action else None,
    }
    found = await audit_rows.page(db, filters, page.limit + 1, after)
    cursor = None
    if len(found) > page.limit:
        found = found[: page.limit]
        cursor = encode_cursor(found[-1]["created_at"], found[-1]["seq"])
    return Page[AuditEntry](items=[_entry(row) for row in found], next_cursor=cursor)
