"""Request and response shapes of /events: create/update, the public and private views, votes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict, StringConstraints, field_validator

from podium.models.phase import DEFAULT_PHASE, Phase
from podium.public_ids import EventId, EventRef, ProjectId, ProjectRef, UserId, VoteId
from podium.schemas.common import NullInSchema, RequestBody
from podium.services.access import VOTE_LIMIT_STEPS

MAX_FEATURE_FLAGS = 50
# The most votes any event allows; a request naming more projects is malformed, not over a limit.
MOST_VOTES_PER_USER = max(votes for _, votes in VOTE_LIMIT_STEPS)

EventName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
EventDescription = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
FeatureFlag = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_]+$", max_length=64)]
FeatureFlags = Annotated[list[FeatureFlag], Field(max_length=MAX_FEATURE_FLAGS)]


def deduplicated(flags: list[str]) -> list[str]:
    # A set in meaning, a list on the wire: first occurrence wins, order kept.
    return list(dict.fromkeys(flags))


def _empty_if_null(value: object) -> object:
    # v1 accepted `"description": null` for "no description".
    return "" if value is None else value


def _refuse_null(value: object) -> object:
    # Omit a field to keep it (or take its default); null would be a third meaning.
    if value is None:
        raise ValueError("may be omitted but not null")
    return value


# One description per phase field, shared by the requests and the views (docs/phases.md).
PHASE = (
    "`draft` (visible to its owner only) → `submission` (projects are created, joined and "
    "edited) → `voting` (votes are taken) → `closed` (results public); the owner may move it "
    "to any phase, back to `draft` only while nobody attends it and it has no project"
)
LIVE_LEADERBOARD = "Show the ranking and points publicly before the event is closed"
SUBMISSIONS_OPEN_DURING_VOTING = (
    "Whether projects may still be created, joined, edited and deleted during `voting`"
)
VOTABLE = (
    "v1's switch, derived: true exactly when `phase` is `voting`. Writing true opens voting; "
    "writing false during voting closes the event if the leaderboard stays enabled, else "
    "reopens submission"
)
# A phase by its name: strict bodies would otherwise want a Python enum instance.
PhaseName = Annotated[Phase, Strict(False)]
LEADERBOARD_ENABLED = (
    "v1's switch, derived: `live_leaderboard` or `phase` = `closed`. Writing it sets "
    "`live_leaderboard` (on a closed event, false reopens submission)"
)


class EventCreate(RequestBody):
    """A new event starts in `submission` unless `phase` (or v1's `votable`) says otherwise."""

    name: EventName = Field(description="Shown to attendees; the slug is derived from it once")
    description: Annotated[EventDescription, NullInSchema()] = ""
    phase: PhaseName = Field(default=DEFAULT_PHASE, description=PHASE)
    live_leaderboard: bool = Field(default=False, description=LIVE_LEADERBOARD)
    submissions_open_during_voting: bool = Field(
        default=True, description=SUBMISSIONS_OPEN_DURING_VOTING
    )
    votable: bool = Field(default=False, description=VOTABLE)
    leaderboard_enabled: bool = Field(default=False, description=LEADERBOARD_ENABLED)
    demo_links_optional: bool = False
    ysws_checks_enabled: bool = False
    feature_flags: FeatureFlags = Field(
        default_factory=list, description="Names of `[a-zA-Z0-9_]+`; duplicates are dropped"
    )

    @field_validator("description", mode="before")
    @classmethod
    def _description_null_is_empty(cls, value: object) -> object:
        return _empty_if_null(value)

    @field_validator("feature_flags")
    @classmethod
    def _dedupe(cls, flags: list[str]) -> list[str]:
        return deduplicated(flags)


class EventUpdate(RequestBody):
    """Fields left out keep their value; the slug never changes (links keep working)."""

    name: EventName | None = None
    description: EventDescription | None = None
    phase: PhaseName | None = Field(default=None, description=PHASE)
    live_leaderboard: bool | None = Field(default=None, description=LIVE_LEADERBOARD)
    submissions_open_during_voting: bool | None = Field(
        default=None, description=SUBMISSIONS_OPEN_DURING_VOTING
    )
    votable: bool | None = Field(default=None, description=VOTABLE)
    leaderboard_enabled: bool | None = Field(default=None, description=LEADERBOARD_ENABLED)
    demo_links_optional: bool | None = None
    ysws_checks_enabled: bool | None = None
    feature_flags: FeatureFlags | None = None

    @field_validator("feature_flags")
    @classmethod
    def _dedupe(cls, flags: list[str] | None) -> list[str] | None:
        return None if flags is None else deduplicated(flags)

    @field_validator("description", mode="before")
    @classmethod
    def _description_null_is_empty(cls, value: object) -> object:
        return _empty_if_null(value)

    @field_validator(
        "name",
        "phase",
        "live_leaderboard",
        "submissions_open_during_voting",
        "votable",
        "leaderboard_enabled",
        "demo_links_optional",
        "ysws_checks_enabled",
        "feature_flags",
        mode="before",
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        return _refuse_null(value)


class EventPublic(BaseModel):
    """What anyone may see of an event."""

    id: EventId
    name: str
    slug: str
    description: str
    phase: Phase = Field(description=PHASE)
    live_leaderboard: bool = Field(description=LIVE_LEADERBOARD)
    submissions_open_during_voting: bool = Field(description=SUBMISSIONS_OPEN_DURING_VOTING)
    votable: bool = Field(description=VOTABLE)
    leaderboard_enabled: bool = Field(description=LEADERBOARD_ENABLED)
    demo_links_optional: bool
    ysws_checks_enabled: bool
    feature_flags: list[str]
    owner_id: UserId


class EventPrivate(EventPublic):
    """The owner's view: adds what lets people join and how voting is sized."""

    join_code: str
    attendee_count: int
    max_votes_per_user: int


class UserEvents(BaseModel):
    owned_events: list[EventPrivate]
    attending_events: list[EventPublic]


class EventIdOfSlug(BaseModel):
    id: EventId


class VoteRequest(RequestBody):
    event: EventRef
    projects: list[ProjectRef] = Field(
        min_length=1,
        max_length=MOST_VOTES_PER_USER,
        description="Distinct projects of the event, none of them the voter's own",
    )

    @field_validator("projects")
    @classmethod
    def _distinct(cls, projects: list[int]) -> list[int]:
        if len(set(projects)) != len(projects):
            raise ValueError("each project may appear only once")
        return projects


class VoteCast(BaseModel):
    id: VoteId
    project_id: ProjectId
    created_at: datetime


class VotesCast(BaseModel):
    event_id: EventId
    votes: list[VoteCast]
    votes_remaining: int = Field(description="Votes the voter may still cast in this event")
