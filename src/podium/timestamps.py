"""`--since TIME` of the Airtable tools (the backfill's delta, the rollback write-back)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_since(text: str) -> datetime:
    """An ISO 8601 time with a zone (`2026-06-01T18:00:00Z`, `…+02:00`), in UTC.

    A time with no zone is refused rather than guessed: the cutover is run by people in several
    zones, and a guess off by hours would silently skip (or re-send) that many hours of records.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"--since {text!r} has no time zone; write it in UTC, e.g. {text}Z")
    return moment.astimezone(UTC)
