"""One planner per v1 table: records + what earlier stages decided → rows, pairs, quarantine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from podium.backfill.context import Context
from podium.backfill.plan import AirtableRecord, Existing, StagePlan
from podium.backfill.stages.events import plan_events
from podium.backfill.stages.projects import plan_projects
from podium.backfill.stages.referrals import plan_referrals
from podium.backfill.stages.users import plan_users
from podium.backfill.stages.votes import plan_votes

Planner = Callable[..., StagePlan]

PLANNERS: dict[str, Planner] = {
    "users": plan_users,
    "events": plan_events,
    "projects": plan_projects,
    "referrals": plan_referrals,
    "votes": plan_votes,
}


def plan_stage(
    stage: str,
    records: Sequence[AirtableRecord],
    context: Context,
    existing: Existing,
    *,
    full: bool,
) -> StagePlan:
    """Plan `stage` from its records; updates `context` with what it decided."""
    return PLANNERS[stage](records, context, existing, full=full)


__all__ = ["PLANNERS", "plan_stage"]
