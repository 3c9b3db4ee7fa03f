"""JWTs exactly as v1 minted them: HS256, claims `sub` (email), `token_type`, `exp`.

Keeping v1's claims and algorithm means access tokens issued by v1 stay valid after the cutover
when the same secret is configured.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

ALGORITHM = "HS256"


class TokenType(StrEnum):
    MAGIC_LINK = "magic_link"
    ACCESS = "access"


class InvalidToken(Exception):
    """The token is expired, tampered, of the wrong type or not a token at all."""


def create_token(
    email: str,
    token_type: TokenType,
    secret: str,
    lifetime: timedelta,
    *,
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    claims = {"sub": email, "token_type": str(token_type), "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, expected: TokenType, secret: str) -> str:
    """The email a valid token of the expected type names; InvalidToken otherwise."""
    try:
        # Pinning the algorithm list refuses `alg: none` and any algorithm swap.
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims.get("token_type") != expected:
        raise InvalidToken(f"expected a {expected} token")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    return subject
