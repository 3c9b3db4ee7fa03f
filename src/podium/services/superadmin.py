"""The platform admin: every event and user, searched and paged; ownership transfer; events
created on someone's behalf. The caller is a superadmin already (podium.deps.Superadmin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from podium.db import Executor, Transaction
from podium.errors import not_found
from podium.ids import Entity
from podium.models import Event, User
from podium.models.audit import AuditAction, TargetKind
from podium.public_ids import public_id
from podium.queries import rows
from podium.queries import superadmin as superadmin_rows
from podium.schemas.common import Page
from podium.schemas.events import EventCreate, EventPrivate
from podium.schemas.superadmin import (
    EventCreateFor,
    SuperadminEvent,
    SuperadminUser,
    UserContact,
)
from podium.services import audit, exports
from podium.services import events as events_service
from podium.services.events import private_view
from podium.services.pagination import PageRequest, encode_cursor


async def _page(
    db: Executor, which: superadmin_rows.SuperadminList, q: str, page: PageRequest
) -> tuple[list[Mapping[str, Any]], str | None]:
    after = None if page.after is None else (page.after.created_at, page.after.seq)
    pattern = superadmin_rows.like_pattern(q)
    found = await superadmin_rows.page(db, which, pattern, page.limit + 1, after)
    if len(found) <= page.limit:
        return found, None
    found = found[: page.limit]
    return found, encode_cursor(found[-1]["created_at"], found[-1]["seq"])


async def events(db: Executor, q: str, page: PageRequest) -> Page[SuperadminEvent]:
    found, cursor = await _page(db, "events", q, page)
    return Page[SuperadminEvent](
        items=[
            SuperadminEvent(
                id=public_id(Entity.EVENT, row["seq"]),
                name=row["name"],
                slug=row["slug"],
                phase=row["phase"],
                owner=UserContact(
                    id=public_id(Entity.USER, row["owner_seq"]),
                    email=row["owner_email"],
                    display_name=row["owner_display_name"],
                ),
                created_at=row["created_at"],
            )
            for row in found
        ],
        next_cursor=cursor,
    )


async def users(db: Executor, q: str, page: PageRequest) -> Page[SuperadminUser]:
    found, cursor = await _page(db, "users", q, page)
    return Page[SuperadminUser](
        items=[
            SuperadminUser(
                id=public_id(Entity.USER, row["seq"]),
                email=row["email"],
                display_name=row["display_name"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                is_superadmin=row["is_superadmin"],
                created_at=row["created_at"],
            )
            for row in found
        ],
        next_cursor=cursor,
    )


async def transfer_ownership(
    tx: Transaction, event: Event, owner_seq: int, actor: audit.Actor
) -> EventPrivate:
    """Make the user `owner_seq` names the event's owner; 404 `user` if there is none.

    The new owner need not attend: an owner organises, and may join by the code like anyone.
    """
    owner_id = await superadmin_rows.user_id_by_seq(tx, owner_seq)
    if owner_id is None:
        raise not_found("user")
    # Locked: two transfers at once each record the owner the other one replaced.
    former_seq = await superadmin_rows.owner_seq_for_change(tx, event.pk)
    if former_seq is None or not await superadmin_rows.set_owner(tx, event.pk, owner_id):
        raise not_found("event")  # deleted meanwhile
    await audit.record(
        tx,
        actor,
        AuditAction.OWNER_TRANSFERRED,
        event=audit.AuditedEvent.of(event),
        target=(TargetKind.USER, owner_seq),
        changes={"owner": [public_id(Entity.USER, former_seq), public_id(Entity.USER, owner_seq)]},
    )
    return await private_view(tx, event.pk)


async def create_event_for(
    tx: Transaction, data: EventCreateFor, actor: audit.Actor
) -> EventPrivate:
    """The event create's event, owned by the user `data.owner` names; 404 `user` if none."""
    owner = await rows.one_by(tx, User, "seq", data.owner)
    if owner is None:
        raise not_found("user")
    # The same body without `owner`, keeping which fields were given (the phase rules read it).
    event = EventCreate.model_construct(
        data.model_fields_set - {"owner"}, **data.model_dump(exclude={"owner"})
    )
    created = await events_service.insert_event(tx, owner, event)
    await audit.record(
        tx,
        actor,
        AuditAction.EVENT_CREATED_FOR,
        event=audit.AuditedEvent.of(created),
        target=(TargetKind.USER, owner.seq),
    )
    return await private_view(tx, created.pk)


async def events_to_export(db: Executor, seqs: Sequence[int]) -> list[audit.AuditedEvent]:
    """The events `seqs` names, in that order, each once; 404 `event` if any is unknown."""
    wanted = list(dict.fromkeys(seqs))
    found = {row["seq"]: row for row in await superadmin_rows.events_by_seq(db, wanted)}
    if len(found) < len(wanted):
        missing = next(seq for seq in wanted if seq not in found)
        raise not_found(f"event {public_id(Entity.EVENT, missing)}")
    return [audit.AuditedEvent(found[seq]["id"], seq, found[seq]["name"]) for seq in wanted]


def export_parts(events: Sequence[audit.AuditedEvent]) -> list[exports.Part]:
    """The events' parts of an export across events, each row led by the event's ID and name."""
    return [
        exports.Part(event.id, (public_id(Entity.EVENT, event.seq), event.name)) for event in events
    ]
