"""Rate limits as route dependencies: `dependencies=[per_user(Bucket.VOTES)]`.

A route-level dependency runs before the handler's own (and before the body is validated), so a
limited request costs one statement and no more; a 429 says when to come back (`Retry-After`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from podium.deps import CurrentUser, Db, SettingsDep
from podium.http.client_address import client_address
from podium.services import rate_limits
from podium.services.rate_limits import Bucket


async def get_client_address(request: Request, settings: SettingsDep) -> str:
    return client_address(request.scope, settings.trusted_proxies)


# The client's address as the limits key it (X-Forwarded-For only from PODIUM_TRUSTED_PROXIES).
ClientAddress = Annotated[str, Depends(get_client_address)]


def per_user(bucket: Bucket) -> Any:
    """Limit a route that needs a token on the caller's account."""

    async def rate_limit(user: CurrentUser, db: Db, settings: SettingsDep) -> None:
        await rate_limits.check(db, settings, bucket, rate_limits.user_key(bucket, user.pk))

    rate_limit.__name__ = f"rate_limit_{bucket.value}"
    return Depends(rate_limit)


def per_address(bucket: Bucket) -> Any:
    """Limit an anonymous route (sign-up, login) on the client's address."""

    async def rate_limit(address: ClientAddress, db: Db, settings: SettingsDep) -> None:
        await rate_limits.check(db, settings, bucket, rate_limits.address_key(bucket, address))

    rate_limit.__name__ = f"rate_limit_{bucket.value}"
    return Depends(rate_limit)
