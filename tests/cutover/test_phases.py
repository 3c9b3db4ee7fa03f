"""The write-back derives v1's checkboxes from the phase (#16): what v1 shows after a rollback."""

from __future__ import annotations

import asyncpg
import pytest
from tests.api.conftest import make_event
from tests.conftest import MakeUser

from podium.cutover.v1_records import load_rows

# (phase, live_leaderboard) → v1 (votable, leaderboard_enabled)
DERIVED = [
    (("draft", False), (False, False)),  # v1 has no drafts: open there
    (("submission", False), (False, False)),
    (("submission", True), (False, True)),
    (("voting", False), (True, False)),
    (("voting", True), (True, True)),
    (("closed", False), (False, True)),
]


@pytest.mark.parametrize(("state", "flags"), DERIVED)
async def test_v1_checkboxes_are_derived_from_the_phase(
    db: asyncpg.Pool, make_user: MakeUser, state: tuple[str, bool], flags: tuple[bool, bool]
) -> None:
    event = await make_event(await make_user(), phase=state[0], live_leaderboard=state[1])
    async with db.acquire() as conn:
        rows = await load_rows(conn)
    fields = rows["events"][event.pk].fields
    assert (fields["votable"], fields["leaderboard_enabled"]) == flags
