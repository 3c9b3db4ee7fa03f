"""v1's two checkboxes → the event's phase (#16), as the events stage plans the rows, and back
(the write-back's derived booleans read as the checkboxes were)."""

from __future__ import annotations

from typing import Any

import pytest

from podium.backfill.context import Context
from podium.backfill.plan import Existing
from podium.backfill.stages import plan_stage
from podium.models.phase import Phase, PhaseState, from_v1

OWNER = "recUSER0000000001"
CREATED = "2024-01-01T00:00:00.000Z"

# v1 (votable, leaderboard_enabled) → (phase, live_leaderboard)
MAPPING = [
    ((False, False), ("submission", False)),
    ((True, False), ("voting", False)),
    ((True, True), ("voting", True)),
    ((False, True), ("closed", False)),
]


def event_record(n: int, votable: bool, leaderboard_enabled: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": f"Jam {n}",
        "slug": f"jam-{n}",
        "join_code": f"JAM{n:04d}",
        "owner": [OWNER],
    }
    # Airtable leaves a false checkbox out of `fields`.
    if votable:
        fields["votable"] = True
    if leaderboard_enabled:
        fields["leaderboard_enabled"] = True
    return {"id": f"recEVENT00000000{n}", "createdTime": CREATED, "fields": fields}


def test_the_events_stage_maps_v1s_checkboxes_to_a_phase() -> None:
    context, existing = Context(), Existing()
    owner = {"id": OWNER, "createdTime": CREATED, "fields": {"email": "o@x.io", "first_name": "O"}}
    plan_stage("users", [owner], context, existing, full=True)
    records = [event_record(n, *flags) for n, (flags, _) in enumerate(MAPPING)]

    plan = plan_stage("events", records, context, existing, full=True)

    rows = {row["airtable_id"]: row for row in plan.rows["events"]}
    for n, (_, (phase, live)) in enumerate(MAPPING):
        row = rows[f"recEVENT00000000{n}"]
        assert (row["phase"], row["live_leaderboard"]) == (phase, live)
        assert row["submissions_open_during_voting"] is True  # v1 never closed submissions
        assert "votable" not in row and "leaderboard_enabled" not in row
    assert plan.entries == []


@pytest.mark.parametrize(("flags", "mapped"), MAPPING)
def test_each_v1_pair_reads_back_as_it_was(
    flags: tuple[bool, bool], mapped: tuple[str, bool]
) -> None:
    state = from_v1(*flags)
    assert state == PhaseState(Phase(mapped[0]), mapped[1])
    assert (state.votable, state.leaderboard_enabled) == flags
