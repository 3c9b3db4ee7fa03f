"""Public short IDs: the codec between (entity type, seq) and the strings the API shows."""

import re

from podium.ids.codec import (
    DEVELOPMENT_ID_KEY,
    DOMAIN_SIZE,
    Entity,
    IdCodec,
    id_example,
    id_pattern,
)

LEGACY_ID_PATTERN = r"^rec[A-Za-z0-9]{14}$"
"""A v1 (Airtable) record id. Never a short ID: those are 9 characters with an ``_``."""

_LEGACY_ID = re.compile(LEGACY_ID_PATTERN)


def is_legacy_id(value: str) -> bool:
    """Whether ``value`` has the shape of a v1 record id (``rec`` + 14 letters/digits)."""
    # fullmatch, not match: ``$`` alone would also accept a trailing newline.
    return isinstance(value, str) and _LEGACY_ID.fullmatch(value) is not None


__all__ = [
    "DEVELOPMENT_ID_KEY",
    "DOMAIN_SIZE",
    "LEGACY_ID_PATTERN",
    "Entity",
    "IdCodec",
    "id_example",
    "id_pattern",
    "is_legacy_id",
]
