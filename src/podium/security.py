"""JWTs as v1 minted them (HS256; `sub` = email, `token_type`, `exp`), plus the claims that make
sessions endable (docs/security.md).

Keeping v1's claims and algorithm means access tokens issued by v1 stay valid after the cutover
when the same secret is configured. Tokens v2 mints add `iat`; access tokens from /verify add
`uid` (the user's public ID), `gen` (the user's token generation) and a random `jti`; login
links add `jti` (their login_links row). Every claim is checked for type and content here, so
nothing a client sends reaches the database or an arithmetic unchecked.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt
from jwt.utils import base64url_decode

from podium.ids import Entity
from podium.public_ids import current_codec, decode_id, public_id

ALGORITHM = "HS256"

# What v1 gave an access token. A v1 token carries no `iat`; it was issued this long before
# its `exp` (v1 had no other lifetime), which is what account deletion compares (see `issued_at`).
V1_ACCESS_TOKEN_LIFETIME = timedelta(days=2)
# A real token is a few hundred bytes; anything far larger is not worth a base64 decode.
MAX_TOKEN_LENGTH = 4096
# The users.email column's width: a longer subject names nobody.
MAX_SUBJECT_LENGTH = 254
# users.token_generation is a PostgreSQL integer.
MAX_GENERATION = 2**31 - 1


class TokenType(StrEnum):
    MAGIC_LINK = "magic_link"
    ACCESS = "access"


class InvalidToken(Exception):
    """The token is expired, tampered, of the wrong type, has malformed claims or is not a
    token at all."""


class TokenExpired(InvalidToken):
    """A token that verified (our signature, good claims) but whose `exp` has passed."""


@dataclass(frozen=True)
class TokenClaims:
    """A verified token's claims, each of the type it must have."""

    email: str
    expires_at: float
    issued_at: float
    # Absent from v1's tokens (and from tokens minted by email: the smoke test, the demo).
    user_seq: int | None
    generation: int
    jti: str | None
    # Identifies this very token for POST /logout (podium.queries.sessions).
    token_id: uuid.UUID


def create_token(
    email: str,
    token_type: TokenType,
    secret: str,
    lifetime: timedelta,
    *,
    now: datetime | None = None,
    **claims: Any,
) -> str:
    """A signed token for `email`; `claims` adds `uid`, `gen` or `jti`."""
    issued = now or datetime.now(UTC)
    payload = {
        "sub": email,
        "token_type": str(token_type),
        "exp": issued + lifetime,
        "iat": issued,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def create_access_token(
    email: str, user_seq: int, generation: int, secret: str, lifetime: timedelta
) -> str:
    """An access token as /verify issues it: bound to this account (`uid`) and its current
    token generation (`gen`), with a random `jti` so two tokens minted in the same second are
    still two tokens (POST /logout ends one)."""
    return create_token(
        email,
        TokenType.ACCESS,
        secret,
        lifetime,
        uid=public_id(Entity.USER, user_seq),
        gen=generation,
        jti=secrets.token_urlsafe(12),
    )


def read_token(
    token: str, expected: TokenType, secret: str, *, now: float | None = None
) -> TokenClaims:
    """The claims of a valid token of the expected type; InvalidToken otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("token too long")
    claims = _verified_claims(token, expected, secret, current_codec())
    # The one check that a verified token can fail later, so it is made at every use.
    if claims.expires_at <= (time.time() if now is None else now):
        raise TokenExpired("the token has expired")
    return claims


# Verifying a token (base64, JSON, HMAC, PyJWT's checks, the public user ID in `uid`) cost ~45 us,
# ~10 % of /users/current, and a client sends the same access token with each request. Tokens
# that verified are kept per process, keyed by the token's full text, the secret and the ID codec,
# so the same token always gives the same claims; expiry, logout and the account are checked at
# every use (`read_token` above, then podium.services.sessions). A token that fails is not kept.
VERIFIED_TOKENS_KEPT = 4096


@functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified_claims(token: str, expected: TokenType, secret: str, codec: object) -> TokenClaims:
    try:
        # Pinning the algorithm list refuses `alg: none` and any algorithm swap. `iat` is
        # checked below for its type only: another instance's clock may run a little ahead.
        # `exp` is checked by read_token at each use (this result is kept).
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"], "verify_iat": False, "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Whatever else a hostile payload makes the JSON or claim parsing raise.
        raise InvalidToken(f"malformed token: {type(exc).__name__}") from exc
    if claims.get("token_type") != expected:
        raise InvalidToken(f"expected a {expected} token")
    expires_at = _numeric_date(claims, "exp")
    issued_at = (
        _numeric_date(claims, "iat")
        if "iat" in claims
        else expires_at - V1_ACCESS_TOKEN_LIFETIME.total_seconds()
    )
    return TokenClaims(
        email=_subject(claims.get("sub")),
        expires_at=expires_at,
        issued_at=issued_at,
        user_seq=_user_seq(claims["uid"]) if "uid" in claims else None,
        generation=_generation(claims["gen"]) if "gen" in claims else 0,
        jti=_jti(claims["jti"]) if "jti" in claims else None,
        token_id=token_id(token),
    )


def token_id(token: str) -> uuid.UUID:
    """The identity of a token: a digest of its decoded signature.

    The decoded bytes, not the text: base64 lets a token be re-spelt (unused trailing bits)
    into a string that still verifies, and a revoked token must stay revoked however spelt.
    The header and payload cannot be re-spelt: the signature covers their text.
    """
    signature = base64url_decode(token.rsplit(".", 1)[-1].encode("ascii"))
    return uuid.UUID(bytes=hashlib.sha256(signature).digest()[:16])


def _numeric_date(claims: dict[str, Any], name: str) -> float:
    # PyJWT takes "123" or true for a date; arithmetic on them later would not.
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"{name} is not a number")
    if not math.isfinite(value):
        raise InvalidToken(f"{name} is not finite")
    return float(value)


def _subject(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidToken("token has no subject")
    if len(value) > MAX_SUBJECT_LENGTH or "\x00" in value:
        raise InvalidToken("token subject is not an email")
    try:
        # JSON may carry lone surrogates, which no database text can hold.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidToken("token subject is not valid text") from None
    return value


def _user_seq(value: object) -> int:
    seq = decode_id(Entity.USER, value) if isinstance(value, str) else None
    if seq is None:
        raise InvalidToken("uid is not a user ID")
    return seq


def _generation(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GENERATION:
        raise InvalidToken("gen is not a token generation")
    return value


def _jti(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise InvalidToken("jti is not a token id")
    return value
