"""Reading v1 field values: absent keys, formula errors, wrong types, and the derived values.

Airtable leaves empty values out of `fields` (a false checkbox has no key): absent means empty,
never an error. Everything else odd is recorded as an Issue on the record being read.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from podium.backfill.rules import Issue, issue

SLUG = re.compile(r"^[-a-z0-9]{1,50}$")
JOIN_CODE = re.compile(r"^[A-Z0-9]{4,16}$")
FEATURE_FLAG = re.compile(r"^[a-zA-Z0-9_]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Readable codes: no 0/O or 1/I; 32 symbols, 8 of them ≈ 10^12 codes.
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SLUG_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def is_formula_error(value: Any) -> bool:
    return isinstance(value, dict) and ("error" in value or "specialValue" in value)


def parse_created_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class FieldReader:
    """Typed access to one record's fields; problems are collected in `issues`."""

    def __init__(self, fields: Mapping[str, Any], *, computed: Iterable[str] = ()) -> None:
        self.fields = fields
        self.issues: list[Issue] = []
        self._formula_errors: dict[str, Any] = {}
        self._bad_types: dict[str, Any] = {}
        computed_errors = {
            name: fields[name] for name in computed if _holds_formula_error(fields.get(name))
        }
        if computed_errors:
            self.issues.append(
                issue(
                    "formula_error",
                    "computed field(s) hold an error value: " + ", ".join(sorted(computed_errors)),
                    fields=computed_errors,
                )
            )

    def _raw(self, name: str) -> Any:
        value = self.fields.get(name)
        if is_formula_error(value):
            self._formula_errors[name] = value
            return None
        return value

    def text(self, name: str, *, strip: bool = True) -> str:
        value = self.fields.get(name)
        if type(value) is str and "\x00" not in value:  # the common case, first
            return value.strip() if strip else value
        if type(value) is str:
            # PostgreSQL text cannot hold NUL characters.
            self._bad_types[name] = value
            value = value.replace("\x00", "")
            return value.strip() if strip else value
        value = self._raw(name)
        if value is None:
            return ""
        if isinstance(value, bool | list | dict):
            self._bad_types[name] = value
            return ""
        text = value if isinstance(value, str) else _number_text(value)
        return text.strip() if strip else text

    def checkbox(self, name: str) -> bool:
        value = self._raw(name)
        if value is None or isinstance(value, bool):
            return bool(value)
        self._bad_types[name] = value
        return False

    def number(self, name: str) -> float | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        self._bad_types[name] = value
        return None

    def links(self, name: str) -> list[str]:
        value = self.fields.get(name)
        if type(value) is list and len(value) == 1 and type(value[0]) is str:
            return list(value)  # the common case, first: a single link
        value = self._raw(name)
        if value is None:
            return []
        if type(value) is list and all([type(item) is str for item in value]):
            return list(dict.fromkeys(value))
        self._bad_types[name] = value
        return []

    def finish(self) -> list[Issue]:
        """The issues, with one entry each for the formula errors and wrong types seen."""
        if self._formula_errors:
            self.issues.append(
                issue(
                    "formula_error_value",
                    "migrated as empty: " + ", ".join(sorted(self._formula_errors)),
                    fields=self._formula_errors,
                )
            )
        if self._bad_types:
            self.issues.append(
                issue(
                    "invalid_value",
                    "value of the wrong type or with NUL characters, migrated as empty or "
                    "without them: " + ", ".join(sorted(self._bad_types)),
                    fields={name: without_nul(value) for name, value in self._bad_types.items()},
                )
            )
        return self.issues


def without_nul(value: Any) -> Any:
    """`value` with NUL characters removed from every string (jsonb refuses them too)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    return value


def normalise_email(text: str) -> str | None:
    """Stripped and lower-cased as the database's CHECK computes it, or None when Python's and
    PostgreSQL's lower-casing could disagree (capital letters outside ASCII)."""
    email = text.strip()
    if any(not char.isascii() and char.lower() != char for char in email):
        return None
    return email.lower()


def _holds_formula_error(value: Any) -> bool:
    if type(value) is list:
        return any(type(item) is dict and is_formula_error(item) for item in value)
    return type(value) is dict and is_formula_error(value)


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def truncate(value: str, limit: int, name: str, issues: list[Issue]) -> str:
    if len(value) <= limit:
        return value
    issues.append(
        issue(
            "value_too_long",
            f"{name} cut to {limit} characters (was {len(value)})",
            lengths={name: len(value)},
        )
    )
    return value[:limit].rstrip() or value[:limit]


def parse_dob(text: str) -> date | None:
    """A strict YYYY-MM-DD date, or None: '31/12/1999' or '19950704' are not guessed at."""
    if not ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_quality(text: str) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (including NaN, which PostgreSQL refuses)."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def split_feature_flags(text: str) -> tuple[list[str], list[str]]:
    """(valid names sorted and unique, invalid names) from v1's comma-separated text."""
    names = [name.strip() for name in text.split(",")]
    names = [name for name in names if name]
    valid = sorted({name for name in names if FEATURE_FLAG.match(name)})
    invalid = [name for name in names if not FEATURE_FLAG.match(name)]
    return valid, invalid


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50].strip("-")
    return slug


def humanize_slug(slug: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[-_\s]+", slug) if part)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256(":".join(parts).encode()).digest()


def derived_join_code(record_id: str, attempt: int = 0) -> str:
    """A join code that depends only on the record id, so every run derives the same one."""
    digest = _digest("join_code", record_id, str(attempt))
    return "".join(JOIN_CODE_ALPHABET[byte % len(JOIN_CODE_ALPHABET)] for byte in digest[:8])


def suffixed_slug(slug: str, record_id: str, attempt: int = 0) -> str:
    digest = _digest("slug", record_id, str(attempt))
    suffix = "".join(SLUG_SUFFIX_ALPHABET[byte % len(SLUG_SUFFIX_ALPHABET)] for byte in digest[:6])
    return f"{slug[: 50 - len(suffix) - 1].strip('-')}-{suffix}"


def display_name_for(first_name: str, last_name: str) -> str:
    """SPEC §1's default display name: first name and last initial ("Ada L.")."""
    initial = last_name.strip()[:1]
    return f"{first_name} {initial.upper()}." if initial else first_name
