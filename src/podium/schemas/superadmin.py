"""Shapes of the platform admin's routes under /superadmin/."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, field_validator

from podium.public_ids import EventId, UserId, UserRef
from podium.schemas.common import RequestBody
from podium.schemas.events import EventCreate, FeatureFlags, deduplicated


class UserContact(BaseModel):
    """A user with the email a superadmin needs to reach them."""

    id: UserId
    email: str
    display_name: str


class SuperadminEvent(BaseModel):
    """One event of the platform-wide list."""

    id: EventId
    name: str
    slug: str
    phase: str
    owner: UserContact
    created_at: datetime


class SuperadminUser(BaseModel):
    """One account of the platform-wide list."""

    id: UserId
    email: str
    display_name: str
    first_name: str
    last_name: str
    is_superadmin: bool
    created_at: datetime


class OwnerChange(RequestBody):
    owner: UserRef


class EventCreateFor(EventCreate):
    """An event created by a superadmin on someone's behalf: the event create's body plus its
    `owner`."""

    owner: UserRef


class FeatureFlagsChange(RequestBody):
    """The event's feature flags, all of them: the list replaces the one stored."""

    feature_flags: FeatureFlags = Field(
        description="Names of `[a-zA-Z0-9_]+`, at most 50; duplicates are dropped"
    )

    @field_validator("feature_flags")
    @classmethod
    def _dedupe(cls, flags: list[str]) -> list[str]:
        return deduplicated(flags)
