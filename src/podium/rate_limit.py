"""A rate limit as a setting: `30/60s` is 30 requests per 60 seconds (`s`, `m`, `h`, `d`).

`off` (or `0`) turns a limit off. The limiter behind it (podium.services.rate_limits) spreads
the allowance evenly: `30/60s` admits a burst of 30 and then one request every 2 seconds, so no
client gets more than the stated rate over any stretch of time, and none twice the limit across a
window boundary (what a fixed window allows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_settings import NoDecode

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FORM = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([smhd])\s*$")


@dataclass(frozen=True)
class RateLimit:
    """`requests` per `seconds`."""

    requests: int
    seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.seconds <= 0:
            raise ValueError("a rate limit needs at least 1 request in a positive window")

    @property
    def interval(self) -> float:
        """Seconds between two requests at the sustained rate (the window over the limit)."""
        return self.seconds / self.requests

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


def parse_rate_limit(value: Any) -> RateLimit | None:
    """`"30/60s"`, `"10/10m"`, `"500/h"` → RateLimit; `"off"`, `"0"`, `None` → None (no limit)."""
    if value is None or isinstance(value, RateLimit):
        return value
    if not isinstance(value, str):
        raise ValueError("a rate limit is written like 30/60s, 10/10m or 500/1h (or off)")
    if value.strip().lower() in ("off", "0", "none", ""):
        return None
    match = _FORM.match(value.lower())
    if match is None:
        raise ValueError(
            f"{value!r} is not a rate limit: write it like 30/60s, 10/10m or 500/1h (or off)"
        )
    requests, amount, unit = match.groups()
    return RateLimit(int(requests), float(amount or 1) * _UNITS[unit])


# A settings field: read from a string (not JSON), shown as one.
RateLimitSetting = Annotated[
    RateLimit | None,
    NoDecode,
    BeforeValidator(parse_rate_limit),
    PlainSerializer(lambda limit: str(limit) if limit else "off", return_type=str),
]
