"""referrals: user, event and content required."""

from __future__ import annotations

from collections.abc import Sequence

from podium.backfill.context import Context
from podium.backfill.plan import (
    AirtableRecord,
    Existing,
    Outcome,
    Row,
    StagePlan,
    finish_records,
    required_link,
)
from podium.backfill.rules import issue
from podium.backfill.tables import COMPUTED_FIELDS
from podium.backfill.values import FieldReader


def plan_referrals(
    records: Sequence[AirtableRecord], context: Context, existing: Existing, *, full: bool
) -> StagePlan:
    plan = StagePlan("referrals", full, record_ids={record["id"] for record in records})
    outcomes: list[Outcome] = []
    rows: dict[str, Row] = {}
    for record in records:
        outcome = Outcome("referrals", record)
        reader = FieldReader(record.get("fields", {}), computed=COMPUTED_FIELDS["referrals"])
        user = required_link(outcome, reader.links("user"), "user", context.resolve_user)
        event = required_link(outcome, reader.links("event"), "event", context.resolve_event)
        content = reader.text("content", strip=False).strip()
        if not content:
            outcome.add(issue("missing_required_field", "content is empty", fields=["content"]))
        outcome.add(*reader.finish())
        rows[outcome.id] = {
            "id": existing.row_id("referrals", outcome.id),
            "airtable_id": outcome.id,
            "created_at": outcome.created,
            "content": content,
            "user_id": context.users[user] if user is not None else None,
            "event_id": context.events[event].id if event is not None else None,
        }
        outcomes.append(outcome)
    finish_records(plan, outcomes, rows, "referrals")
    context.replace_rejected("referrals", plan.rejected, full=full, batch=plan.record_ids)
    return plan
