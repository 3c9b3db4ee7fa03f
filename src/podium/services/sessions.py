"""Access tokens in use: who a token names (and whether it still may), and ending tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from podium.config import Settings
from podium.db import Executor, Transaction
from podium.errors import ApiError, ErrorCode
from podium.models import User
from podium.queries import sessions as session_rows
from podium.queries import users as user_rows
from podium.security import InvalidToken, TokenClaims, TokenType, read_token

# A token without `uid` (v1's, or one minted by email) is refused when its account was created
# after it was issued: it was issued to a deleted account of the same address. This much is
# allowed for clocks (v1's server against Airtable's, `iat`'s whole seconds).
UNBOUND_TOKEN_CLOCK_SLACK_SECONDS = 60.0
# The latest revoked_tokens.expires_at kept (Python's datetime ends at year 9999).
_LATEST_EXPIRY = datetime(9999, 1, 1, tzinfo=UTC).timestamp()


def invalid_access_token(message: str) -> ApiError:
    return ApiError(
        401,
        ErrorCode.INVALID_TOKEN,
        message,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def authenticate(db: Executor, settings: Settings, token: str) -> tuple[User, TokenClaims]:
    """The user a bearer token names and the token's claims; 401 `invalid_token` for a token
    that is malformed, expired, logged out or issued to a deleted account."""
    try:
        claims = read_token(token, TokenType.ACCESS, settings.jwt_secret_value)
    except InvalidToken:
        raise invalid_access_token("the access token is invalid or expired") from None
    found = await user_rows.for_access_token(db, claims.email.strip().lower(), claims.token_id)
    if found is None:
        raise invalid_access_token("the access token names no existing user")
    user, revoked = found
    # v1's tokens carry no generation: they are generation 0, ended by the first "everywhere".
    if revoked or claims.generation != user.token_generation:
        raise invalid_access_token("the access token was logged out; log in again")
    if claims.user_seq is not None:
        if claims.user_seq != user.seq:
            raise invalid_access_token("the access token belongs to a deleted account")
    elif claims.issued_at < user.created_at.timestamp() - UNBOUND_TOKEN_CLOCK_SLACK_SECONDS:
        raise invalid_access_token("the access token belongs to a deleted account")
    return user, claims


async def log_out(tx: Transaction, user: User, claims: TokenClaims) -> None:
    """End this token (the user's other tokens stay valid)."""
    expires_at = datetime.fromtimestamp(min(claims.expires_at, _LATEST_EXPIRY), UTC)
    await session_rows.revoke(tx, claims.token_id, user.pk, expires_at)


async def log_out_everywhere(tx: Transaction, user: User) -> None:
    """End every token of the user issued so far, v1's included."""
    await session_rows.end_all(tx, user.pk)
