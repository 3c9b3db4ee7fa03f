"""Quality checks: a thin proxy to the external "review factory" service.

Upstream contract (all we rely on; `podium_devtools.fake_review` implements it):

- Base URL `PODIUM_REVIEW_FACTORY_URL`; every request carries
  `Authorization: Bearer <PODIUM_REVIEW_FACTORY_TOKEN>`.
- `POST {base}/checks` with JSON `{"reference", "name", "repo", "demo", "image_url",
  "description"}` (`reference` is the project's public ID, opaque to the service) answers 2xx
  `{"id": str, "status": "pending" | "done" | "failed", "result"?: object}`.
- `GET {base}/checks/{id}` answers 2xx `{"id", "status", "reference", "result"?: object,
  "error"?: str}` (`result` present when `status` is `done`), or 404 for an unknown check.
  The echoed `reference` tells us which project a check belongs to, so only its members can
  read it and a finished result is stored on it (`projects.cached_auto_quality`).

Anything else from upstream (other statuses, malformed bodies, timeouts, refused connections)
is a 502 `review_service_failed`; without URL and token configured the routes answer 503
`review_service_unavailable`. A project with a stored result never reaches the service.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from podium.config import Settings
from podium.db import Database, Executor
from podium.errors import ApiError, ErrorCode, not_found
from podium.ids import Entity
from podium.models import Project, User
from podium.public_ids import decode_id, public_id
from podium.queries import DataError, rows
from podium.schemas.projects import CheckStatus, ProjectCheck
from podium.services.projects import is_member

log = logging.getLogger(__name__)

CHECK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_CHECK_ID = re.compile(CHECK_ID_PATTERN)
# A check is started or polled while a person waits for the page: fail fast.
UPSTREAM_TIMEOUT = httpx.Timeout(10.0, connect=3.0)

MAX_UPSTREAM_BYTES = 1_000_000


class UpstreamCheck(BaseModel):
    """A check as the review service describes it (unknown fields ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=CHECK_ID_PATTERN)
    status: CheckStatus
    reference: str | None = None
    result: JsonValue = None
    error: str | None = None


def _unavailable() -> ApiError:
    return ApiError(
        503,
        ErrorCode.REVIEW_SERVICE_UNAVAILABLE,
        "quality checks are not available: the review service is not configured "
        "(PODIUM_REVIEW_FACTORY_URL and PODIUM_REVIEW_FACTORY_TOKEN)",
    )


def _failed(reason: str) -> ApiError:
    return ApiError(502, ErrorCode.REVIEW_SERVICE_FAILED, f"the review service failed: {reason}")


def _client(settings: Settings) -> httpx.AsyncClient:
    if not settings.review_factory_url or settings.review_factory_token is None:
        raise _unavailable()
    token = settings.review_factory_token.get_secret_value()
    return httpx.AsyncClient(
        base_url=settings.review_factory_url.rstrip("/"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=UPSTREAM_TIMEOUT,
        follow_redirects=False,
    )


async def _call(settings: Settings, method: str, path: str, body: Any = None) -> httpx.Response:
    async with _client(settings) as client:
        try:
            return await client.request(method, path, json=body)
        except httpx.TimeoutException:
            raise _failed("it did not answer in time") from None
        except httpx.HTTPError as error:
            log.warning("review service unreachable: %r", error)
            raise _failed("it could not be reached") from None


def _parse(response: httpx.Response) -> UpstreamCheck:
    if len(response.content) > MAX_UPSTREAM_BYTES:
        raise _failed("it answered an oversized body")
    if not response.is_success:
        log.warning("review service answered %s: %.500s", response.status_code, response.text)
        raise _failed(f"it answered HTTP {response.status_code}")
    try:
        return UpstreamCheck.model_validate_json(response.content)
    except ValidationError:
        log.warning("review service answered an unexpected body: %.500s", response.text)
        raise _failed("it answered an unexpected body") from None


async def _require_member(db: Executor, project: Project, user: User) -> None:
    if not await is_member(db, project.pk, project.owner.pk, user):
        raise ApiError(
            403,
            ErrorCode.NOT_PROJECT_MEMBER,
            "only the project's owner and collaborators may do this",
        )


async def _store_result(db: Database, project: Project, check: UpstreamCheck) -> None:
    if check.status is not CheckStatus.DONE or check.result is None:
        return
    # A short transaction of its own, opened after the upstream answered: no database
    # connection is held while waiting for the review service. A project deleted meanwhile
    # has nothing to store the result on.
    try:
        async with db.transaction() as tx:
            await rows.change(tx, Project, project.pk, {"cached_auto_quality": check.result})
    except DataError:  # SQLSTATE class 22: e.g. a \u0000 in a string, which jsonb refuses
        log.warning("review result for project %s not storable", project.pk, exc_info=True)
        raise _failed("it answered a result that cannot be stored") from None


def _view(project: Project, check: UpstreamCheck) -> ProjectCheck:
    return ProjectCheck(
        check_id=check.id,
        project_id=public_id(Entity.PROJECT, project.seq),
        status=check.status,
        result=check.result if check.status is CheckStatus.DONE else None,
        cached=False,
    )


async def start_check(
    db: Database, settings: Settings, project_seq: int, user: User
) -> ProjectCheck:
    """Start a quality check of a project the caller is a member of (or return its result).

    Takes the database, not a transaction: none is held while the review service answers.
    """
    project = await rows.one_by(db, Project, "seq", project_seq)
    if project is None:
        raise not_found("project")
    await _require_member(db, project, user)
    project_id = public_id(Entity.PROJECT, project.seq)
    if project.cached_auto_quality is not None:
        return ProjectCheck(
            check_id=None,
            project_id=project_id,
            status=CheckStatus.DONE,
            result=project.cached_auto_quality,
            cached=True,
        )
    request = {
        "reference": project_id,
        "name": project.name,
        "repo": project.repo,
        "demo": project.demo,
        "image_url": project.image_url,
        "description": project.description,
    }
    check = _parse(await _call(settings, "POST", "/checks", request))
    await _store_result(db, project, check)
    return _view(project, check)


async def get_check(db: Database, settings: Settings, check_id: str, user: User) -> ProjectCheck:
    """A check's status, for members of its project; a finished result is stored."""
    if _CHECK_ID.fullmatch(check_id) is None:
        raise not_found("quality check")
    response = await _call(settings, "GET", f"/checks/{check_id}")
    if response.status_code == 404:
        raise not_found("quality check")
    check = _parse(response)
    seq = decode_id(Entity.PROJECT, check.reference) if check.reference else None
    if check.id != check_id or seq is None:
        raise _failed("it answered for another check or without a project reference")
    project = await rows.one_by(db, Project, "seq", seq)
    if project is None:
        raise not_found("quality check")
    await _require_member(db, project, user)
    await _store_result(db, project, check)
    return _view(project, check)
