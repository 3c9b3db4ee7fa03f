from __future__ import annotations

from datetime import datetime

import ormar

from podium.db import base_ormar_config

RATE_LIMIT_KEY_MAX_LENGTH = 200


class RateLimitState(ormar.Model):
    """One limited key's state (podium.services.rate_limits): when its allowance is back.

    `key` is `<bucket>:<u|a>:<user id or client address>`; `tat` (the "theoretical arrival
    time" of the generic cell rate algorithm) is when the key's next request would be on time at
    the sustained rate. A row whose `tat` has passed is the same as no row, so such rows are
    deleted at leisure. The table is UNLOGGED (the migration): a limit's state is not worth a
    WAL write per vote, and a crash that forgets it only resets every limit.
    """

    ormar_config = base_ormar_config.copy(  # type: ignore[pydantic-field]  # ormar reads it
        tablename="rate_limits"
    )

    key: str = ormar.String(primary_key=True, max_length=RATE_LIMIT_KEY_MAX_LENGTH)
    tat: datetime = ormar.DateTime(timezone=True)
