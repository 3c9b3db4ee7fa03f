"""Shapes of the platform admin's routes under /superadmin/."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from podium.public_ids import EventId, UserId, UserRef
from podium.schemas.common import RequestBody
from podium.schemas.events import EventCreate


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
