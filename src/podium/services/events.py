"""Events: creating, reading, updating and deleting them, and joining them by code."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from podium.db import Executor, Transaction, violation
from podium.errors import ApiError, ErrorCode, conflict, not_found
from podium.ids import Entity
from podium.models import Event, User
from podium.models.audit import AuditAction
from podium.models.constraints import Constraint
from podium.models.phase import Phase, PhaseState
from podium.public_ids import decode_id, public_id
from podium.queries import IntegrityError, members, referrals, rows
from podium.queries import events as event_rows
from podium.queries import trash as trash_rows
from podium.schemas.events import (
    EventCreate,
    EventIdOfSlug,
    EventPrivate,
    EventPublic,
    EventUpdate,
    UserEvents,
)
from podium.services import audit, phases, trash
from podium.services.access import max_votes_per_user
from podium.services.join_codes import (
    WrongJoinCode,
    normalise_join_code,
    with_unique_join_code,
)

SLUG_MAX_LENGTH = 50
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

# An event row of podium.queries.events, read by column name.
Row = Mapping[str, Any]


def slugify(name: str) -> str:
    """`Hack Club: Día 1!` → `hack-club-dia-1`; empty when nothing usable is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX_LENGTH].rstrip("-")


def _public(row: Row) -> EventPublic:
    return EventPublic(
        id=public_id(Entity.EVENT, row["seq"]),
        name=row["name"],
        slug=row["slug"],
        description=row["description"],
        phase=row["phase"],
        live_leaderboard=row["live_leaderboard"],
        submissions_open_during_voting=row["submissions_open_during_voting"],
        votable=row["votable"],
        leaderboard_enabled=row["leaderboard_enabled"],
        demo_links_optional=row["demo_links_optional"],
        ysws_checks_enabled=row["ysws_checks_enabled"],
        feature_flags=row["feature_flags"],
        owner_id=public_id(Entity.USER, row["owner_seq"]),
    )


def _private(row: Row) -> EventPrivate:
    return EventPrivate(
        **_public(row).model_dump(),
        join_code=row["join_code"],
        attendee_count=row["attendee_count"],
        max_votes_per_user=max_votes_per_user(row["project_count"]),
    )


async def public_view(db: Executor, event_id: uuid.UUID) -> EventPublic:
    row = await event_rows.by_id(db, event_id, private=False)
    if row is None:
        raise not_found("event")
    return _public(row)


async def public_view_by_public_id(
    db: Executor, event_id: str, viewer: phases.Viewer
) -> EventPublic:
    """The event a public ID names, in one query (the event page is the hottest read); a
    draft for its owner only."""
    seq = decode_id(Entity.EVENT, event_id)
    row = await event_rows.by_seq(db, seq) if seq else None
    if row is None:
        raise not_found("event")
    await phases.require_visible(row["phase"], row["owner_id"], viewer, "event")
    return _public(row)


async def private_view(db: Executor, event_id: uuid.UUID) -> EventPrivate:
    row = await event_rows.by_id(db, event_id, private=True)
    if row is None:
        raise not_found("event")
    return _private(row)


async def events_of(db: Executor, user: User) -> UserEvents:
    """The events a user owns (owner's view) and attends (public view), newest first.

    Not paginated (v1's shape); each list stops at queries.events.MAX_LISTED_EVENTS, far above
    any real user.
    """
    owned = await event_rows.owned_by(db, user.pk)
    attending = await event_rows.attended_by(db, user.pk)
    return UserEvents(
        owned_events=[_private(row) for row in owned],
        attending_events=[_public(row) for row in attending],
    )


async def event_id_of_slug(db: Executor, slug: str, viewer: phases.Viewer) -> EventIdOfSlug:
    row = await event_rows.of_slug(db, slug)
    if row is None:
        raise not_found("event")
    await phases.require_visible(row["phase"], row["owner_id"], viewer, "event")
    return EventIdOfSlug(id=public_id(Entity.EVENT, row["seq"]))


def _phase_columns(state: PhaseState) -> dict[str, Any]:
    return {"phase": state.phase.value, "live_leaderboard": state.live_leaderboard}


def _without_v1_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value
        for name, value in values.items()
        if name not in (*phases.V1_FIELDS, *phases.PHASE_FIELDS)
    }


async def create_event(tx: Transaction, owner: User, data: EventCreate) -> EventPrivate:
    """Create an event owned by `owner` (join-code clashes retried in savepoints of `tx`)."""
    event = await insert_event(tx, owner, data)
    return await private_view(tx, event.pk)


async def insert_event(tx: Transaction, owner: User, data: EventCreate) -> Event:
    """`create_event`'s new row."""
    slug = slugify(data.name)
    if not slug:
        raise ApiError(
            422,
            ErrorCode.NAME_WITHOUT_SLUG,
            "the event name needs at least one letter or digit (a-z, 0-9): its URL is made from it",
        )

    given = data.model_dump(include=data.model_fields_set)
    state = phases.next_state(PhaseState(data.phase, data.live_leaderboard), given)
    columns = {**_without_v1_fields(data.model_dump()), **_phase_columns(state)}

    async def insert(join_code: str) -> Event:
        values = {**columns, "slug": slug, "join_code": join_code, "owner_id": owner.pk}
        return await rows.create(tx, Event, values)

    slug_taken = conflict(
        ErrorCode.SLUG_TAKEN,
        f"an event with the URL slug '{slug}' already exists; choose another name",
    )
    # Before any row lock (podium.queries.trash): no trash move reserves a value meanwhile.
    await trash_rows.lock_values_shared(tx)
    if await trash_rows.is_reserved(tx, "event_slug", slug):
        raise slug_taken  # a trashed event's, kept for its restore
    try:
        event = await with_unique_join_code(
            tx, insert, Constraint.EVENTS_JOIN_CODE, "event_join_code"
        )
    except IntegrityError as exc:
        if violation(exc).constraint == Constraint.EVENTS_SLUG:
            raise slug_taken from None
        raise
    return event


async def update_event(
    tx: Transaction, event: Event, data: EventUpdate, actor: audit.Actor
) -> EventPrivate:
    """Change the fields given; a phase change (or v1's booleans) follows services.phases.

    Audited: `phase_changed` when the phase moves, else `event_updated`, with every field whose
    value changed; a request that changes nothing records nothing.
    """
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        return await private_view(tx, event.pk)
    # Locked first: joins, project changes and votes in flight finish before the phase moves.
    current = await event_rows.for_change(tx, event.pk)
    if current is None:
        raise not_found("event")  # deleted since the request began
    was = PhaseState(Phase(current["phase"]), current["live_leaderboard"])
    state = phases.next_state(was, changes)
    if (
        state.phase == Phase.DRAFT
        and was.phase != Phase.DRAFT
        and await event_rows.has_members(tx, event.pk)
    ):
        raise phases.event_not_empty()
    values = {**_without_v1_fields(changes), **_phase_columns(state)}
    if await rows.change(tx, Event, event.pk, values) is None:
        raise not_found("event")
    changed = audit.diff(current, values)
    if changed:
        action = AuditAction.PHASE_CHANGED if "phase" in changed else AuditAction.EVENT_UPDATED
        name = values.get("name", current["name"])
        await audit.record(
            tx, actor, action, event=audit.AuditedEvent.of(event, name), changes=changed
        )
    return await private_view(tx, event.pk)


async def set_feature_flags(
    tx: Transaction, event: Event, flags: list[str], actor: audit.Actor
) -> EventPrivate:
    """Replace the event's feature flags (a superadmin's route), audited when they change."""
    current = await event_rows.for_change(tx, event.pk)
    if current is None:
        raise not_found("event")  # deleted since the request began
    if current["feature_flags"] != flags:
        await rows.change(tx, Event, event.pk, {"feature_flags": flags})
        await audit.record(
            tx,
            actor,
            AuditAction.FEATURE_FLAGS_CHANGED,
            event=audit.AuditedEvent.of(event, current["name"]),
            changes={"feature_flags": [current["feature_flags"], flags]},
        )
    return await private_view(tx, event.pk)


async def delete_event(
    tx: Transaction, event: Event, by: User, actor: audit.Actor, retention: timedelta
) -> None:
    """Move the event, with everything under it, to the trash (podium.services.trash); the
    audit trail keeps its entries (no foreign key to the event)."""
    await trash.trash_event(tx, event, by, retention)
    await audit.record(tx, actor, AuditAction.EVENT_DELETED, event=audit.AuditedEvent.of(event))


async def attend_event(tx: Transaction, user: User, join_code: str, referral: str) -> EventPublic:
    """Join the event with this code; a non-empty referral is stored with the attendance."""
    code = normalise_join_code(join_code)
    # Locked (FOR SHARE): the event can neither be deleted nor go back to draft meanwhile.
    event = await event_rows.joinable_locked(tx, code) if code is not None else None
    if event is None or event["phase"] == Phase.DRAFT:
        raise WrongJoinCode("event")
    event_id = event["id"]
    if not await members.attend(tx, event_id, user.pk):
        raise conflict(ErrorCode.ALREADY_ATTENDING, "you already attend this event")
    content = referral.strip()
    if content:
        await referrals.add(tx, event_id, user.pk, content)
    return await public_view(tx, event_id)
