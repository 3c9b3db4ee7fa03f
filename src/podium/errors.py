"""One error type, one JSON shape, one set of handlers.

Every error the API returns looks like `{"error": {"code": "...", "message": "...", "details": …}}`;
`code` is stable and machine-readable, `message` is for people.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from podium import metrics

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    """Every `error.code` the API sends: stable, for clients to switch on."""

    ALREADY_ATTENDING = "already_attending"
    ALREADY_MEMBER = "already_member"
    ALREADY_VOTED = "already_voted"
    BAD_REQUEST = "bad_request"
    CORS_REFUSED = "cors_refused"
    DATABASE_UNAVAILABLE = "database_unavailable"
    DEMO_REQUIRED = "demo_required"
    DISPOSABLE_EMAIL = "disposable_email"
    EMAIL_CHANGE_NOT_SUPPORTED = "email_change_not_supported"
    EMAIL_TAKEN = "email_taken"
    EVENT_IN_TRASH = "event_in_trash"
    EVENT_NOT_EMPTY = "event_not_empty"
    FORBIDDEN = "forbidden"
    HTTP_ERROR = "http_error"
    INTERNAL_ERROR = "internal_error"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_TOKEN = "invalid_token"
    LEADERBOARD_DISABLED = "leaderboard_disabled"
    LINK_CHECKS_OFF = "link_checks_off"
    LINK_CHECK_TOO_SOON = "link_check_too_soon"
    LINK_SUPERSEDED = "link_superseded"
    LINK_USED = "link_used"
    MAIL_NOT_CONFIGURED = "mail_not_configured"
    MAIL_PROVIDER_FAILED = "mail_provider_failed"
    MALFORMED_BODY = "malformed_body"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NAME_WITHOUT_SLUG = "name_without_slug"
    NOT_ACCEPTABLE = "not_acceptable"
    NOT_ATTENDING = "not_attending"
    NOT_FOUND = "not_found"
    NOT_PROJECT_MEMBER = "not_project_member"
    NOT_PROJECT_OWNER = "not_project_owner"
    OWN_PROJECT = "own_project"
    OWNS_EVENTS = "owns_events"
    PHASE_FIELDS_CONFLICT = "phase_fields_conflict"
    PROJECT_NOT_IN_EVENT = "project_not_in_event"
    PROJECT_OWNER_GONE = "project_owner_gone"
    RATE_LIMITED = "rate_limited"
    RESTORE_CONFLICT = "restore_conflict"
    REQUEST_TIMEOUT = "request_timeout"
    REQUEST_TOO_LARGE = "request_too_large"
    REVIEW_SERVICE_FAILED = "review_service_failed"
    REVIEW_SERVICE_UNAVAILABLE = "review_service_unavailable"
    SLUG_TAKEN = "slug_taken"
    SUBMISSIONS_CLOSED = "submissions_closed"
    TOO_MANY_LOGIN_REQUESTS = "too_many_login_requests"
    TURNSTILE_FAILED = "turnstile_failed"
    TURNSTILE_UNAVAILABLE = "turnstile_unavailable"
    UNAUTHORIZED = "unauthorized"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    USER_NOT_FOUND = "user_not_found"
    VALIDATION_ERROR = "validation_error"
    VOTE_LIMIT_EXCEEDED = "vote_limit_exceeded"
    VOTING_CLOSED = "voting_closed"


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: ErrorCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details


# What a 503 for a database fault or a request past its deadline tells the client: the service
# is back within about this many seconds in the fault tests (docs/operations.md).
RETRY_AFTER_SECONDS = 1


class DatabaseUnavailable(ApiError):
    """The database could not serve this request (podium.db.connection_fault): a 503."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            503,
            ErrorCode.DATABASE_UNAVAILABLE,
            "the database is unavailable; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.reason = reason


def request_timed_out(seconds: float) -> ApiError:
    return ApiError(
        503,
        ErrorCode.REQUEST_TIMEOUT,
        f"the request did not finish within {seconds:g} seconds; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def log_unavailable(request_line: str, error: DatabaseUnavailable) -> None:
    """One line per request answered 503 for the database, no traceback: the cause is outside;
    and one count of it in the metrics, by the driver error behind it."""
    metrics.database_unavailable(error.__cause__)
    log.warning("%s: 503 database unavailable (%s)", request_line, error.reason)


def not_found(what: str) -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, f"{what} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, ErrorCode.FORBIDDEN, message)


def conflict(code: ErrorCode, message: str) -> ApiError:
    return ApiError(409, code, message)


def bad_request(code: ErrorCode, message: str) -> ApiError:
    return ApiError(400, code, message)


def error_response(
    status_code: int,
    code: ErrorCode,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status_code, headers=headers
    )


def _jsonable_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Pydantic's `input` and `ctx` may hold bytes or exceptions; keep what a client can use.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]


_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def _malformed_body() -> JSONResponse:
    return error_response(422, ErrorCode.MALFORMED_BODY, "the request body is not valid JSON")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.code, exc.message, headers=exc.headers, details=exc.details
        )

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log_unavailable(f"{request.method} {request.url.path}", exc)
        return error_response(exc.status_code, exc.code, exc.message, headers=exc.headers)

    # A driver error that escaped podium.db's wrappers is classified here too; anything that is
    # not a connection fault goes on to the 500 handler below, as before. (podium.db imports
    # this module, hence the import here.)
    from podium.db import DRIVER_ERRORS, connection_fault

    async def driver_error(request: Request, exc: Exception) -> JSONResponse:
        reason = connection_fault(exc)
        if reason is None:
            raise exc
        unavailable = DatabaseUnavailable(reason)
        unavailable.__cause__ = exc
        return await database_unavailable(request, unavailable)

    for driver_error_type in DRIVER_ERRORS:
        app.add_exception_handler(driver_error_type, driver_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _jsonable_validation_errors(exc)
        if any(detail["type"] == "json_invalid" for detail in details):
            # Broken JSON is one error whatever its shape, not a field error at "body.26".
            return _malformed_body()
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"])
        return error_response(
            422,
            ErrorCode.VALIDATION_ERROR,
            f"{where}: {message}" if where else message,
            details=details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # Malformed JSON is a malformed request like any other: the declared 422.
            return _malformed_body()
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.HTTP_ERROR)
        headers: dict[str, str] | None = getattr(exc, "headers", None)
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, ErrorCode.INTERNAL_ERROR, "something went wrong on our side")


def conditional_responses() -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route that answers `If-None-Match` (podium.http.conditional)."""
    return {
        200: {
            "headers": {
                "ETag": {
                    "description": "Send back in If-None-Match to revalidate",
                    "schema": {"type": "string"},
                }
            }
        },
        304: {"description": "Not modified: the `ETag` sent in `If-None-Match` is current"},
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry declaring each error status a route can return."""
    descriptions = {
        400: "The request breaks a rule",
        401: "Missing or invalid access token",
        403: "Not allowed for this user",
        404: "No such resource (or an ID that is not a valid ID of this type)",
        409: "Conflicts with existing data",
        413: "Request body too large",
        422: "The request is malformed",
        429: "Too many requests: a rate limit (docs/security.md)",
        502: "An upstream service failed",
        503: "A dependency is unavailable (the database, or the request ran past its deadline)",
    }
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses
    }
    for status in (429, 503):
        if status in responses:
            responses[status]["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            }
    return responses
