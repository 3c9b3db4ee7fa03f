"""One ormar model per table; importing this package registers them all on the metadata."""

from podium.models import quarantine as quarantine  # the backfill's tables
from podium.models.attendee import EventAttendee
from podium.models.audit import AuditEvent
from podium.models.collaborator import ProjectCollaborator
from podium.models.event import Event
from podium.models.link_check import LinkCheck
from podium.models.login_link import LoginLink
from podium.models.login_mail import LoginMail
from podium.models.project import Project
from podium.models.rate_limit import RateLimitState
from podium.models.referral import Referral
from podium.models.revision import EventRevision
from podium.models.revoked_token import RevokedToken
from podium.models.trash import TrashEntry, TrashReservation
from podium.models.user import User
from podium.models.vote import Vote

__all__ = [
    "AuditEvent",
    "Event",
    "EventAttendee",
    "EventRevision",
    "LinkCheck",
    "LoginLink",
    "LoginMail",
    "Project",
    "ProjectCollaborator",
    "RateLimitState",
    "Referral",
    "RevokedToken",
    "TrashEntry",
    "TrashReservation",
    "User",
    "Vote",
]
