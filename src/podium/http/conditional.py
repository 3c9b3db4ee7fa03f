"""Conditional GET: weak ETags, `If-None-Match`, and 304 Not Modified.

Tags are weak (`W/"…"`): the compression layer sends the same JSON as gzip, brotli or zstd
bytes, and a shuffled project list is the same list in another order, so a tag promises the
same content, not the same bytes. Two kinds of tag:

- a digest of the body, for single-row pages (the event page, a project page): exact, and the
  body costs one indexed read anyway;
- a keyed digest of the event's revision counters (podium.models.revision), for the project
  lists and leaderboards: a revalidation reads one row instead of building a 700 kB list. The
  key is the server's secret ID key, so a tag reveals no count of changes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

_IF_NONE_MATCH_DESCRIPTION = (
    "An `ETag` this route sent before: 304 with no body while it is current"
)

# The request header in the spec, for the route decorators' `openapi_extra`: the parameter as
# FastAPI would declare a `Header()` of type `str | None`, appended after the route's own, so
# generated clients know it. It is not a FastAPI parameter because FastAPI inspects a declared
# header's annotation on every request (~20 µs of the event page's ~1 ms; `if_none_match` reads
# it from the request instead).
IF_NONE_MATCH: dict[str, Any] = {
    "parameters": [
        {
            "name": "if-none-match",
            "in": "header",
            "required": False,
            "schema": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "description": _IF_NONE_MATCH_DESCRIPTION,
                "title": "If-None-Match",
            },
            "description": _IF_NONE_MATCH_DESCRIPTION,
        }
    ]
}


def if_none_match(request: Request) -> str | None:
    """The request's `If-None-Match` (the route declares it with `openapi_extra=IF_NONE_MATCH`)."""
    return request.headers.get("if-none-match")


# Public pages may be kept by any cache but must be revalidated before each use.
PUBLIC_CACHE = "no-cache"
# The owner's views carry private data: a browser may keep them, a shared cache never.
PRIVATE_CACHE = "private, no-cache"


def _weak(digest: str) -> str:
    return f'W/"{digest}"'


def body_etag(body: bytes) -> str:
    return _weak(hashlib.blake2b(body, digest_size=16).hexdigest())


@functools.cache
def _tag_key(secret: str) -> bytes:
    return hashlib.blake2b(secret.encode(), digest_size=32, person=b"podium-etag").digest()


def keyed_etag(secret: str, *parts: object) -> str:
    """A tag for `parts` (what the response depends on) that reveals nothing of them."""
    data = "\x1f".join(str(part) for part in parts).encode()
    return _weak(hashlib.blake2b(data, digest_size=16, key=_tag_key(secret)).hexdigest())


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def is_fresh(header: str | None, etag: str) -> bool:
    """Whether the client's `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag) == wanted for tag in header.split(","))


def not_modified(etag: str, cache_control: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})


async def json_for_tag(
    if_none_match: str | None,
    etag: str,
    body: Callable[[], Awaitable[bytes]],
    cache_control: str = PUBLIC_CACHE,
) -> Response:
    """A 304 when the client holds `etag`, else `body()` with it: the body is built only then."""
    if is_fresh(if_none_match, etag):
        return not_modified(etag, cache_control)
    return _tagged(await body(), etag, cache_control)


def _tagged(body: bytes, etag: str, cache_control: str) -> Response:
    return Response(
        body, media_type="application/json", headers={"ETag": etag, "Cache-Control": cache_control}
    )


def json_with_etag(
    if_none_match: str | None, body: bytes, etag: str, cache_control: str = PUBLIC_CACHE
) -> Response:
    """`body` (JSON) with its tag, or a 304 with no body when the client already has it."""
    if is_fresh(if_none_match, etag):
        return not_modified(etag, cache_control)
    return _tagged(body, etag, cache_control)
