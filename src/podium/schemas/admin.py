"""Shapes of the event owner's admin routes under /events/admin/{event_id}."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from podium.public_ids import ProjectId, ReferralId, UserId, UserRef, VoteId
from podium.schemas.common import RequestBody, UserPublic


class AttendeePrivate(BaseModel):
    """An attendee as the event's owner sees them (contact details, never address or phone)."""

    id: UserId
    email: str
    first_name: str
    last_name: str
    display_name: str
    joined_at: datetime


class RemoveAttendee(RequestBody):
    user: UserRef


class VoteAdmin(BaseModel):
    id: VoteId
    voter: UserPublic
    project_id: ProjectId
    created_at: datetime


class ReferralAdmin(BaseModel):
    id: ReferralId
    content: str
    user: UserPublic
    created_at: datetime
