"""What an event's phase allows (podium.models.phase), and how the owner's writes move it.

- draft: visible to its owner only (404 to anyone else), not joinable; it goes back to draft
  only while nobody attends it and it has no project, so a draft never hides anyone's work;
- submission: projects are created, joined, edited and deleted;
- voting: votes are taken; project changes go on only while `submissions_open_during_voting`;
- closed: nothing changes but the phase; the ranking is public.

The ranking and points are public once closed, or in any phase while `live_leaderboard` is on.
Every check here runs on the event row as its caller read it under a share lock
(podium.queries.events), so a phase change waits for requests in flight and the next ones see it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from podium.errors import ApiError, ErrorCode, not_found
from podium.models import User
from podium.models.phase import Phase, PhaseState, with_v1_writes

# v1's booleans and the phase fields they stand for, as an event write names them.
V1_FIELDS = ("votable", "leaderboard_enabled")
PHASE_FIELDS = ("phase", "live_leaderboard")


class Viewer(Protocol):
    """The caller of a public read, resolved only if a rule needs it (podium.deps.Viewer)."""

    async def user(self) -> User | None: ...


async def require_visible(phase: str, owner_id: uuid.UUID, viewer: Viewer, what: str) -> None:
    """A draft is a 404 to anyone but its owner (and the superadmins, who organise any event)."""
    if phase == Phase.DRAFT:
        user = await viewer.user()
        if user is None or (user.pk != owner_id and not user.is_superadmin):
            raise not_found(what)


def require_project_changes_open(phase: str, submissions_open_during_voting: bool) -> None:
    """Projects change during submission, and during voting if the owner left them open."""
    if phase == Phase.SUBMISSION or (phase == Phase.VOTING and submissions_open_during_voting):
        return
    if phase == Phase.DRAFT:
        raise not_found("event")
    raise ApiError(
        403,
        ErrorCode.SUBMISSIONS_CLOSED,
        f"projects of this event cannot change in its {phase} phase",
    )


def require_voting(phase: str) -> None:
    if phase == Phase.DRAFT:
        raise not_found("event")
    if phase != Phase.VOTING:
        raise ApiError(
            403, ErrorCode.VOTING_CLOSED, f"voting is not open for this event (phase: {phase})"
        )


def next_state(current: PhaseState, changes: Mapping[str, Any]) -> PhaseState:
    """The phase after an event write: `phase`/`live_leaderboard` as given, then v1's booleans
    moved as `with_v1_writes` says. Both kinds in one write must agree (422 otherwise)."""
    state = PhaseState(
        Phase(changes.get("phase", current.phase)),
        changes.get("live_leaderboard", current.live_leaderboard),
    )
    state = with_v1_writes(state, changes.get("votable"), changes.get("leaderboard_enabled"))
    for name in PHASE_FIELDS:
        if name in changes and changes[name] != getattr(state, name):
            raise ApiError(
                422,
                ErrorCode.PHASE_FIELDS_CONFLICT,
                f"{name} {changes[name]!r} contradicts votable/leaderboard_enabled in the same "
                "request: votable is phase = voting, leaderboard_enabled is live_leaderboard "
                "or phase = closed; send one or the other",
            )
    return state


def event_not_empty() -> ApiError:
    return ApiError(
        409,
        ErrorCode.EVENT_NOT_EMPTY,
        "an event goes back to draft only while nobody attends it and it has no project",
    )
