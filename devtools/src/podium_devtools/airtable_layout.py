"""The v1 Airtable base layout (SPEC §4) and the Airtable record conventions shared by the fakes.

Both the generator (`airtable_base`) and the server (`fake_airtable`) read this one description,
so a field renamed here is renamed everywhere the migration is tested.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypedDict

RECORD_ID_RE = re.compile(r"^rec[A-Za-z0-9]{14}$")
TABLE_ID_RE = re.compile(r"^tbl[A-Za-z0-9]{14}$")
ID_ALPHABET = string.ascii_letters + string.digits


class AirtableRecord(TypedDict):
    """A record exactly as the Airtable Web API returns it."""

    id: str
    createdTime: str
    fields: dict[str, Any]


ScalarType = Literal["singleLineText", "multilineText", "email", "number", "checkbox"]


@dataclass(frozen=True)
class Scalar:
    """A plain, user-editable field."""

    type: ScalarType


@dataclass(frozen=True)
class Link:
    """A "link to another record" field: an array of record ids.

    `inverse` is the field in `table` that Airtable keeps in step with this one (None when the
    base was set up without a back-link, as votes.event is in v1). `single` mirrors Airtable's
    "allow linking to multiple records" switch being off; the API still speaks arrays.
    """

    table: str
    inverse: str | None
    single: bool = False


@dataclass(frozen=True)
class Lookup:
    """A computed lookup: the `source` field (None = the record id) of the records in `via`."""

    via: str
    source: str | None


FieldSpec = Scalar | Link | Lookup


@dataclass(frozen=True)
class TableLayout:
    name: str
    id: str
    fields: Mapping[str, FieldSpec]

    @property
    def primary_field(self) -> str:
        return next(iter(self.fields))

    def field_id(self, field_name: str) -> str:
        return stable_id("fld", f"{self.name}.{field_name}")


def stable_id(prefix: str, name: str) -> str:
    """An Airtable-shaped id (prefix + 14 letters/digits) derived from `name`: stable."""
    digest = hashlib.sha256(name.encode()).digest()
    return prefix + "".join(ID_ALPHABET[byte % len(ID_ALPHABET)] for byte in digest[:14])


_TEXT = Scalar("singleLineText")
_LONG_TEXT = Scalar("multilineText")
_NUMBER = Scalar("number")
_CHECKBOX = Scalar("checkbox")


def _table(name: str, fields: dict[str, FieldSpec]) -> TableLayout:
    return TableLayout(name=name, id=stable_id("tbl", name), fields=fields)


# `dob` is text, not an Airtable date field: v1 stored whatever the form sent, which is how
# values like "1990-13-45" got in (a real date field would have refused them).
V1_LAYOUT: Mapping[str, TableLayout] = {
    table.name: table
    for table in (
        _table(
            "users",
            {
                "email": Scalar("email"),
                "display_name": _TEXT,
                "first_name": _TEXT,
                "last_name": _TEXT,
                "phone": _TEXT,
                "street_1": _TEXT,
                "street_2": _TEXT,
                "city": _TEXT,
                "state": _TEXT,
                "zip_code": _TEXT,
                "country": _TEXT,
                "dob": _TEXT,
                "votes": Link("votes", "voter"),
                "projects": Link("projects", "owner"),
                "collaborations": Link("projects", "collaborators"),
                "owned_events": Link("events", "owner"),
                "attending_events": Link("events", "attendees"),
                "referral": Link("referrals", "user"),
            },
        ),
        _table(
            "events",
            {
                "name": _TEXT,
                "description": _LONG_TEXT,
                "slug": _TEXT,
                "join_code": _TEXT,
                "votable": _CHECKBOX,
                "leaderboard_enabled": _CHECKBOX,
                "demo_links_optional": _CHECKBOX,
                "ysws_checks_enabled": _CHECKBOX,
                "feature_flags_csv": _TEXT,
                "owner": Link("users", "owned_events", single=True),
                "attendees": Link("users", "attending_events"),
                "projects": Link("projects", "event"),
                "referrals": Link("referrals", "event"),
                "owner_id": Lookup("owner", None),
            },
        ),
        _table(
            "projects",
            {
                "name": _TEXT,
                "repo": _TEXT,
                "image_url": _TEXT,
                "demo": _TEXT,
                "description": _LONG_TEXT,
                "hours_spent": _NUMBER,
                "points": _NUMBER,
                "join_code": _TEXT,
                "cached_auto_quality": _LONG_TEXT,
                "event": Link("events", "projects", single=True),
                "owner": Link("users", "projects", single=True),
                "collaborators": Link("users", "collaborations"),
                "votes": Link("votes", "project"),
                "event_id": Lookup("event", None),
                "owner_id": Lookup("owner", None),
                "owner_display_name": Lookup("owner", "display_name"),
                "collaborator_display_names": Lookup("collaborators", "display_name"),
            },
        ),
        _table(
            "votes",
            {
                # The primary field of a v1 vote is the voter link; votes have no name.
                "voter": Link("users", "votes", single=True),
                "project": Link("projects", "votes", single=True),
                "event": Link("events", None, single=True),
                "user_id": Lookup("voter", None),
                "event_id": Lookup("event", None),
                "project_id": Lookup("project", None),
            },
        ),
        _table(
            "referrals",
            {
                "content": _LONG_TEXT,
                "user": Link("users", "referral", single=True),
                "event": Link("events", "referrals", single=True),
                "event_id": Lookup("event", None),
            },
        ),
    )
}


def check_layout(layout: Mapping[str, TableLayout]) -> None:
    """Raise ValueError unless every link's inverse points back at it and lookups use links."""
    for table in layout.values():
        for name, spec in table.fields.items():
            if isinstance(spec, Link):
                if spec.table not in layout:
                    raise ValueError(f"{table.name}.{name} links to unknown table {spec.table}")
                if spec.inverse is None:
                    continue
                inverse = layout[spec.table].fields.get(spec.inverse)
                if not (
                    isinstance(inverse, Link)
                    and (inverse.table, inverse.inverse) == (table.name, name)
                ):
                    raise ValueError(
                        f"{table.name}.{name}: {spec.table}.{spec.inverse} does not link back"
                    )
            elif isinstance(spec, Lookup):
                via = table.fields.get(spec.via)
                if not isinstance(via, Link):
                    raise ValueError(f"{table.name}.{name} looks up through a non-link field")
                if spec.source is not None and spec.source not in layout[via.table].fields:
                    raise ValueError(f"{table.name}.{name} looks up unknown field {spec.source}")


def is_empty(value: Any) -> bool:
    """Airtable leaves a field out of `fields` when it holds one of these (0 is a value)."""
    return value is None or value is False or value == "" or value == []


def without_empty(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if not is_empty(value)}


def lookup_value(
    spec: Lookup,
    fields: Mapping[str, Any],
    linked_fields: Callable[[str], Mapping[str, Any] | None],
) -> list[Any]:
    """The value Airtable computes for a lookup, given a way to read a linked record's fields.

    Links to records that do not exist contribute nothing, as do empty source values.
    """
    values: list[Any] = []
    for record_id in fields.get(spec.via) or []:
        linked = linked_fields(record_id)
        if linked is None:
            continue
        value = record_id if spec.source is None else linked.get(spec.source)
        if not is_empty(value):
            values.append(value)
    return values


def format_time(moment: datetime) -> str:
    """Airtable's timestamp format: UTC, milliseconds, trailing Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC, as Airtable does."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return truncate_to_ms(moment.astimezone(UTC))


def truncate_to_ms(moment: datetime) -> datetime:
    """Airtable keeps milliseconds; a finer time would compare differently than it prints."""
    return moment - timedelta(microseconds=moment.microsecond % 1000)
