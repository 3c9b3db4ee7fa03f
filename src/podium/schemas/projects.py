"""Request and response shapes of the project routes (projects, joins, lists, quality checks)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    JsonValue,
    StringConstraints,
    TypeAdapter,
)

from podium.public_ids import EventId, EventRef, ProjectId, ProjectRef
from podium.schemas.common import RequestBody, UserPublic

MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 5000
# Far above any honest hackathon, far below PostgreSQL's integer limit.
MAX_HOURS_SPENT = 10_000

_http_url = TypeAdapter(HttpUrl)


def _web_url(value: str) -> str:
    """An http(s) URL in its normalised form (what was validated is what is stored)."""
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    normalised = str(_http_url.validate_python(value))
    if len(normalised) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    return normalised


def _optional_web_url(value: str | None) -> str:
    if value is None or not value.strip():
        return ""
    return _web_url(value.strip())


# NUL and lone surrogates are refused for every body at once (schemas.common.RequestBody).
ProjectName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_LENGTH)]
WebUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(_web_url),
    Field(json_schema_extra={"format": "uri", "description": "An http or https URL"}),
]
# Empty (or absent) is allowed by the schema; whether the event requires it is a rule.
OptionalWebUrl = Annotated[
    str | None,
    AfterValidator(_optional_web_url),
    Field(json_schema_extra={"description": "An http or https URL; empty or null for none"}),
]
HoursSpent = Annotated[int, Field(strict=True, ge=0, le=MAX_HOURS_SPENT)]


class ProjectFields(RequestBody):
    """What a project's owner writes, on create and update."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: ProjectName
    repo: WebUrl
    image_url: WebUrl
    demo: OptionalWebUrl = ""
    description: Description = ""
    hours_spent: HoursSpent = 0


class ProjectCreate(ProjectFields):
    event: EventRef


class ProjectUpdate(ProjectFields):
    """The whole editable project; the event is fixed once created (an `event` field is a 422)."""


class ProjectPublic(BaseModel):
    """What anyone may see of a project."""

    id: ProjectId
    name: str
    repo: str
    image_url: str
    demo: str
    description: str
    hours_spent: int
    event_id: EventId
    owner: UserPublic
    collaborators: list[UserPublic]
    points: int | None = Field(
        description="Votes received; null while the event's leaderboard is not enabled"
    )


class ProjectPrivate(ProjectPublic):
    """The view of the project's owner and collaborators: adds the join code."""

    join_code: str
    cached_auto_quality: JsonValue = Field(
        description="The last finished quality check's result, if any"
    )


class LinkCheckStatus(StrEnum):
    PENDING = "pending"
    VALID = "valid"
    WARNING = "warning"
    INVALID = "invalid"


class LinkCheckReason(BaseModel):
    """One problem a link check found (docs/link-checks.md lists the codes)."""

    link: str = Field(description="Which link: `repo` or `demo`")
    code: str = Field(description="Stable, e.g. `repo_not_found`, `repo_private`, `timeout`")
    severity: LinkCheckStatus = Field(description="`warning` or `invalid`")
    message: str


class LinkCheck(BaseModel):
    """The background check of a project's repository and demo links."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    status: LinkCheckStatus
    reasons: list[LinkCheckReason]
    checked_at: datetime | None = Field(
        description="When the last check finished; null before the first"
    )
    requested_at: datetime = Field(description="When a check was last asked for")


class ProjectAdmin(ProjectPrivate):
    """The event owner's view on the admin leaderboard: points always, the owner's email and
    the link check (null for a project never checked)."""

    points: int
    owner_email: str
    created_at: datetime
    link_check: LinkCheck | None


class ProjectCheckStart(RequestBody):
    model_config = ConfigDict(extra="forbid", strict=True)

    project: ProjectRef


class CheckStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class ProjectCheck(BaseModel):
    """A quality check of a project by the review service."""

    # Always sent: the spec lists it as required, so generated clients need no `?`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    check_id: str | None = Field(
        description="The review service's check ID; null when a stored result was returned"
    )
    project_id: ProjectId
    status: CheckStatus
    result: JsonValue = None
    cached: bool = Field(description="Whether `result` is the project's stored result")
