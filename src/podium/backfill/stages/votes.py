"""votes: the rules v2's schema and voting service enforce, checked before writing."""

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


def plan_votes(
    records: Sequence[AirtableRecord], context: Context, existing: Existing, *, full: bool
) -> StagePlan:
    plan = StagePlan("votes", full, record_ids={record["id"] for record in records})
    outcomes: list[Outcome] = []
    rows: dict[str, Row] = {}
    for record in records:
        outcome = Outcome("votes", record)
        reader = FieldReader(record.get("fields", {}), computed=COMPUTED_FIELDS["votes"])
        voter = required_link(outcome, reader.links("voter"), "voter", context.resolve_user)
        project_key = required_link(
            outcome, reader.links("project"), "project", context.resolve_project
        )
        project = context.projects[project_key] if project_key is not None else None
        event_links = reader.links("event")
        event: str | None
        if not event_links and project is not None:
            event = project.event
            outcome.add(
                issue("vote_event_derived", "event is empty; taken from the project", value=event)
            )
        else:
            event = required_link(outcome, event_links, "event", context.resolve_event)
        outcome.add(*reader.finish())
        if voter is not None and project is not None and event is not None:
            if event != project.event:
                outcome.add(
                    issue(
                        "vote_event_mismatch",
                        f"the vote's event is {event}, its project's is {project.event}",
                        related_record_id=project_key,
                        vote_event=event,
                        project_event=project.event,
                    )
                )
            elif voter in project.team:
                outcome.add(
                    issue(
                        "vote_for_own_project",
                        "the voter is on the project's team",
                        related_record_id=project_key,
                    )
                )
            elif (event, voter) not in context.attendees:
                outcome.add(
                    issue(
                        "vote_by_non_attendee",
                        f"the voter does not attend {event}",
                        related_record_id=event,
                        voter=voter,
                    )
                )
        rows[outcome.id] = {
            "id": existing.row_id("votes", outcome.id),
            "airtable_id": outcome.id,
            "created_at": outcome.created,
            "voter_id": context.users[voter] if voter is not None else None,
            "project_id": project.id if project is not None else None,
            "event_id": context.events[event].id
            if event is not None and project is not None
            else None,
        }
        outcomes.append(outcome)

    # One vote per voter and project: rows this batch does not rewrite keep theirs, else the
    # earliest vote.
    holders: dict[tuple[object, object], str | None] = {
        (row["voter_id"], row["project_id"]): row["airtable_id"]
        for row in existing.occupants("votes", plan.record_ids)
    }
    for outcome in sorted(outcomes, key=lambda item: (item.created, item.id)):
        if not outcome.lands:
            continue
        row = rows[outcome.id]
        pair = (row["voter_id"], row["project_id"])
        if pair in holders:
            holder = holders[pair]
            outcome.add(
                issue(
                    "duplicate_vote",
                    f"the same voter already voted for this project ({holder or 'a v2 vote'})",
                    related_record_id=holder,
                )
            )
        else:
            holders[pair] = outcome.id
    finish_records(plan, outcomes, rows, "votes")
    context.replace_rejected("votes", plan.rejected, full=full, batch=plan.record_ids)
    return plan
