"""An event's phase, and how v1's two booleans read and write it.

The database keeps one truth: `events.phase` and `events.live_leaderboard`. v1's `votable` and
`leaderboard_enabled` are derived from them (`votable` = the phase is voting;
`leaderboard_enabled` = the live leaderboard is on or the event is closed) wherever they are
shown: the API, the rollback write-back. The backfill maps a v1 record's pair to a phase with
`from_v1`; a v1 client writing the booleans moves the phase with `with_v1_writes`.
docs/phases.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    DRAFT = "draft"
    SUBMISSION = "submission"
    VOTING = "voting"
    CLOSED = "closed"


# What a new event starts in: v1 events were joinable, with submissions open, from creation.
DEFAULT_PHASE = Phase.SUBMISSION
PHASES_SQL = ", ".join(f"'{phase}'" for phase in Phase)


@dataclass(frozen=True)
class PhaseState:
    phase: Phase
    live_leaderboard: bool

    @property
    def votable(self) -> bool:
        return votable(self.phase)

    @property
    def leaderboard_enabled(self) -> bool:
        return leaderboard_shown(self.phase, self.live_leaderboard)


def votable(phase: str) -> bool:
    """v1's `votable`: votes are taken in the voting phase only."""
    return phase == Phase.VOTING


def leaderboard_shown(phase: str, live_leaderboard: bool) -> bool:
    """v1's `leaderboard_enabled`: the ranking (and points) is public once closed, or live."""
    return live_leaderboard or phase == Phase.CLOSED


def from_v1(votable: bool, leaderboard_enabled: bool) -> PhaseState:
    """The phase a v1 event is in (the backfill). v1 had no draft, and submissions never closed
    before voting, so: votable → voting (live leaderboard as v1 had it); results shown but
    voting off → closed; neither → submission."""
    if votable:
        return PhaseState(Phase.VOTING, leaderboard_enabled)
    if leaderboard_enabled:
        return PhaseState(Phase.CLOSED, False)
    return PhaseState(Phase.SUBMISSION, False)


def with_v1_writes(
    state: PhaseState, votable: bool | None, leaderboard_enabled: bool | None
) -> PhaseState:
    """The state after a v1 client writes the booleans (None: left out): reading them back gives
    what was written, and the phase moves as little as that allows.

    - `votable: true` opens voting (from any phase); the live switch follows `leaderboard_enabled`.
    - `votable: false` during voting ends it: closed if the leaderboard stays on, else back to
      submission (v1's "not votable, no results": submissions open).
    - `leaderboard_enabled: false` on a closed event reopens submission (a closed event always
      shows its ranking); otherwise it sets the live switch.
    """
    wants_votable = state.votable if votable is None else votable
    wants_shown = state.leaderboard_enabled if leaderboard_enabled is None else leaderboard_enabled
    if wants_votable:
        return PhaseState(Phase.VOTING, wants_shown)
    if state.phase in (Phase.VOTING, Phase.CLOSED):
        if wants_shown:
            return PhaseState(Phase.CLOSED, state.live_leaderboard)
        return PhaseState(Phase.SUBMISSION, False)
    return PhaseState(state.phase, wants_shown)
