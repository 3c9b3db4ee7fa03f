"""events (and their attendees): owner required; slug and join code made valid and unique."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from podium.backfill.context import Context, EventInfo
from podium.backfill.plan import (
    AirtableRecord,
    Claim,
    Existing,
    Outcome,
    Pair,
    Row,
    StagePlan,
    apply_settled,
    finish_records,
    join_code_of,
    link_list,
    required_link,
    settle_join_codes,
    settle_unique,
)
from podium.backfill.rules import issue
from podium.backfill.tables import COMPUTED_FIELDS
from podium.backfill.values import (
    SLUG,
    FieldReader,
    humanize_slug,
    slugify,
    split_feature_flags,
    suffixed_slug,
    truncate,
)
from podium.models.phase import from_v1


def _phase_of(reader: FieldReader) -> Row:
    """v1's two checkboxes as the phase they mean (podium.models.phase.from_v1); submissions
    stay open during voting, as v1 never closed them."""
    state = from_v1(reader.checkbox("votable"), reader.checkbox("leaderboard_enabled"))
    return {
        "phase": state.phase.value,
        "live_leaderboard": state.live_leaderboard,
        "submissions_open_during_voting": True,
    }


def plan_events(
    records: Sequence[AirtableRecord], context: Context, existing: Existing, *, full: bool
) -> StagePlan:
    plan = StagePlan("events", full, record_ids={record["id"] for record in records})
    outcomes: list[Outcome] = []
    rows: dict[str, Row] = {}
    attendees: dict[str, list[str]] = {}
    dropped_links = 0
    for record in records:
        outcome = Outcome("events", record)
        reader = FieldReader(record.get("fields", {}), computed=COMPUTED_FIELDS["events"])
        owner = required_link(outcome, reader.links("owner"), "owner", context.resolve_user)
        attendees[outcome.id], dropped = link_list(
            outcome, reader.links("attendees"), "attendees", context.resolve_user
        )
        dropped_links += dropped
        name, slug_text = reader.text("name"), reader.text("slug")
        slug = slug_text
        if not slug_text:
            slug = slugify(name) or "event"
            outcome.add(
                issue(
                    "derived_required_field",
                    "slug is empty; derived from the name",
                    values={"slug": slug},
                )
            )
        elif not SLUG.match(slug_text):
            slug = slugify(slug_text) or slugify(name) or "event"
            outcome.add(
                issue("invalid_slug", f"slug {slug_text!r} re-derived as {slug!r}", value=slug)
            )
        if not name:
            name = humanize_slug(slug_text or slug) or "Untitled event"
            outcome.add(
                issue(
                    "derived_required_field",
                    "name is empty; derived from the slug",
                    values={"name": name},
                )
            )
        code = join_code_of(outcome, reader)
        flags, invalid_flags = split_feature_flags(reader.text("feature_flags_csv"))
        if invalid_flags:
            outcome.add(
                issue(
                    "invalid_feature_flag",
                    "dropped feature flags: " + ", ".join(repr(flag) for flag in invalid_flags),
                    dropped=invalid_flags,
                )
            )
        row: Row = {
            "id": existing.row_id("events", outcome.id),
            "airtable_id": outcome.id,
            "created_at": outcome.created,
            "name": truncate(name, 200, "name", outcome.issues),
            "slug": slug,
            "description": truncate(
                reader.text("description", strip=False), 500, "description", outcome.issues
            ),
            "join_code": code,
            "owner_id": context.users[owner] if owner is not None else None,
            **_phase_of(reader),
            "demo_links_optional": reader.checkbox("demo_links_optional"),
            "ysws_checks_enabled": reader.checkbox("ysws_checks_enabled"),
            "feature_flags": flags,
        }
        outcome.add(*reader.finish())
        rows[outcome.id] = row
        outcomes.append(outcome)

    landing = [outcome for outcome in outcomes if outcome.lands]
    occupants = existing.occupants("events", plan.record_ids)
    slugs = settle_unique(
        [Claim(item.id, item.created, rows[item.id]["slug"]) for item in landing],
        {row["slug"]: row["airtable_id"] for row in occupants},
        lambda record_id, attempt: suffixed_slug(rows[record_id]["slug"], record_id, attempt),
    )
    codes = settle_join_codes(landing, rows, occupants)
    for outcome in landing:
        row = rows[outcome.id]
        apply_settled(
            outcome,
            row,
            "slug",
            slugs[outcome.id],
            rule="duplicate_slug",
            owner="event",
            quote=True,
        )
        apply_settled(
            outcome, row, "join_code", codes[outcome.id], rule="duplicate_join_code", owner="event"
        )

    landed = finish_records(plan, outcomes, rows, "events")
    plan.links_dropped["event_attendees"] = dropped_links
    pairs: set[Pair] = set()
    for record_id in landed:
        event_id: uuid.UUID = rows[record_id]["id"]
        pairs.update((event_id, context.users[user]) for user in attendees[record_id])
    plan.pairs["event_attendees"] = pairs
    plan.parents["event_attendees"] = {rows[record_id]["id"] for record_id in landed}

    if full:
        context.events.clear()
        context.attendees.clear()
    for record_id in plan.record_ids:
        context.events.pop(record_id, None)
    context.attendees = {pair for pair in context.attendees if pair[0] not in plan.record_ids}
    for record_id in landed:
        row = rows[record_id]
        context.events[record_id] = EventInfo(row["id"], row["demo_links_optional"])
        context.attendees.update((record_id, user) for user in attendees[record_id])
    context.replace_rejected("events", plan.rejected, full=full, batch=plan.record_ids)
    return plan
