"""projects (and their collaborators): event and owner required; join codes unique; points checked."""

from __future__ import annotations

import math
from collections.abc import Sequence

from podium.backfill.context import Context, ProjectInfo
from podium.backfill.plan import (
    AirtableRecord,
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
)
from podium.backfill.rules import issue
from podium.backfill.tables import COMPUTED_FIELDS
from podium.backfill.values import (
    FieldReader,
    parse_quality,
    truncate,
)

MAX_HOURS = 2**31 - 1


def plan_projects(
    records: Sequence[AirtableRecord], context: Context, existing: Existing, *, full: bool
) -> StagePlan:
    plan = StagePlan("projects", full, record_ids={record["id"] for record in records})
    outcomes: list[Outcome] = []
    rows: dict[str, Row] = {}
    teams: dict[str, tuple[str, str, list[str]]] = {}  # record → (event, owner, collaborators)
    dropped_links = 0
    for record in records:
        outcome = Outcome("projects", record)
        reader = FieldReader(record.get("fields", {}), computed=COMPUTED_FIELDS["projects"])
        event = required_link(outcome, reader.links("event"), "event", context.resolve_event)
        owner = required_link(outcome, reader.links("owner"), "owner", context.resolve_user)
        collaborators, dropped = link_list(
            outcome, reader.links("collaborators"), "collaborators", context.resolve_user
        )
        dropped_links += dropped
        name = reader.text("name")
        if not name:
            name = "Untitled project"
            outcome.add(
                issue(
                    "derived_required_field",
                    "name is empty; migrated as 'Untitled project'",
                    values={"name": name},
                )
            )
        code = join_code_of(outcome, reader)
        hours_value = reader.number("hours_spent")
        hours = _hours(outcome, hours_value, reader.fields.get("hours_spent"))
        quality_text = reader.text("cached_auto_quality", strip=False)
        quality = parse_quality(quality_text) if quality_text.strip() else None
        if quality_text.strip() and quality is None:
            outcome.add(
                issue(
                    "invalid_cached_auto_quality",
                    "cached_auto_quality is not a JSON object; migrated as empty",
                    value=quality_text,
                )
            )
        demo = truncate(reader.text("demo"), 2048, "demo", outcome.issues)
        if event is not None and not demo and not context.events[event].demo_links_optional:
            outcome.add(issue("missing_demo", "no demo link, and the event requires one"))
        points = reader.number("points")
        linked_votes = len(reader.links("votes"))
        if (points or 0) != linked_votes:
            outcome.add(
                issue(
                    "points_mismatch",
                    f"v1 points {points if points is not None else 'empty'}, {linked_votes} linked votes",
                    v1_points=points,
                    linked_votes=linked_votes,
                )
            )
        rows[outcome.id] = {
            "id": existing.row_id("projects", outcome.id),
            "airtable_id": outcome.id,
            "created_at": outcome.created,
            "name": truncate(name, 200, "name", outcome.issues),
            "repo": truncate(reader.text("repo"), 2048, "repo", outcome.issues),
            "image_url": truncate(reader.text("image_url"), 2048, "image_url", outcome.issues),
            "demo": demo,
            "description": reader.text("description", strip=False),
            "hours_spent": hours,
            "join_code": code,
            "owner_id": context.users[owner] if owner is not None else None,
            "event_id": context.events[event].id if event is not None else None,
            "cached_auto_quality": quality,
        }
        if event is not None and owner is not None:
            teams[outcome.id] = (event, owner, collaborators)
        outcome.add(*reader.finish())
        outcomes.append(outcome)

    landing = [outcome for outcome in outcomes if outcome.lands]
    codes = settle_join_codes(landing, rows, existing.occupants("projects", plan.record_ids))
    for outcome in landing:
        apply_settled(
            outcome,
            rows[outcome.id],
            "join_code",
            codes[outcome.id],
            rule="duplicate_join_code",
            owner="project",
        )

    landed = finish_records(plan, outcomes, rows, "projects")
    plan.links_dropped["project_collaborators"] = dropped_links
    pairs: set[Pair] = set()
    for record_id in landed:
        project_id = rows[record_id]["id"]
        pairs.update((project_id, context.users[user]) for user in teams[record_id][2])
    plan.pairs["project_collaborators"] = pairs
    plan.parents["project_collaborators"] = {rows[record_id]["id"] for record_id in landed}

    if full:
        context.projects.clear()
    for record_id in plan.record_ids:
        context.projects.pop(record_id, None)
    for record_id in landed:
        event, owner, collaborators = teams[record_id]
        context.projects[record_id] = ProjectInfo(
            rows[record_id]["id"], event, frozenset([owner, *collaborators])
        )
    context.replace_rejected("projects", plan.rejected, full=full, batch=plan.record_ids)
    return plan


def _hours(outcome: Outcome, value: float | None, raw: object) -> int:
    if value is None:
        return 0
    if not math.isfinite(value) or value < 0 or value > MAX_HOURS:
        outcome.add(issue("invalid_hours_spent", f"hours_spent {raw!r} migrated as 0", value=raw))
        return 0
    if not value.is_integer():
        outcome.add(
            issue(
                "invalid_hours_spent", f"hours_spent {raw!r} rounded to {round(value)}", value=raw
            )
        )
    return round(value)
