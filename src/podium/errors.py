"""One error type, one JSON shape, one set of handlers.

Every error the API returns looks like `{"error": {"code": "...", "message": "...", "details": …}}`;
`code` is stable and machine-readable, `message` is for people.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
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


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def error_response(
    status_code: int,
    code: str,
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
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def _malformed_body() -> JSONResponse:
    return error_response(422, "malformed_body", "the request body is not valid JSON")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(
            exc.status_code, exc.code, exc.message, headers=exc.headers, details=exc.details
        )

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
            422, "validation_error", f"{where}: {message}" if where else message, details=details
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            # Malformed JSON is a malformed request like any other: the declared 422.
            return _malformed_body()
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        headers: dict[str, str] | None = getattr(exc, "headers", None)
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side")


def conditional_responses() -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route that answers `If-None-Match` (podium.conditional)."""
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
        429: "Too many requests",
        502: "An upstream service failed",
        503: "A dependency is unavailable",
    }
    return {
        status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses
    }
