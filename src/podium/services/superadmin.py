"""The platform admin: every event and user, searched and paged; ownership transfer; events
created on someone's behalf. The caller is a superadmin already (podium.deps.Superadmin)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.db import Executor, Transaction
from podium.errors import not_found
from podium.ids import Entity
from podium.models import Event, User
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


async def transfer_ownership(tx: Transaction, event: Event, owner_seq: int) -> EventPrivate:
    """Make the user `owner_seq` names the event's owner; 404 `user` if there is none.

    The new owner need not attend: an owner organises, and may join by the code like anyone.
    """
    owner_id = await superadmin_rows.user_id_by_seq(tx, owner_seq)
    if owner_id is None:
        raise not_found("user")
    if not await superadmin_rows.set_owner(tx, event.pk, owner_id):
        raise not_found("event")  # deleted meanwhile
    return await private_view(tx, event.pk)


async def create_event_for(tx: Transaction, data: EventCreateFor) -> EventPrivate:
    """The event create's event, owned by the user `data.owner` names; 404 `user` if none."""
    owner = await rows.one_by(tx, User, "seq", data.owner)
    if owner is None:
        raise not_found("user")
    # The same body without `owner`, keeping which fields were given (the phase rules read it).
    event = EventCreate.model_construct(
        data.model_fields_set - {"owner"}, **data.model_dump(exclude={"owner"})
    )
    return await events_service.create_event(tx, owner, event)
