"""User request and response shapes: sign-up, profile update, the private view.

String lengths match the users table's columns (podium.models.user), so an over-long value is
a 422 rather than a database error; NUL characters, which PostgreSQL text cannot hold, are a 422
too. Text is stored stripped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from podium.ids import Entity
from podium.models import User
from podium.public_ids import UserId, public_id
from podium.schemas.common import NullInSchema, RequestBody

EMAIL_MAX_LENGTH = 254


def _null_as_empty(value: Any) -> Any:
    # v1 clients send null for the profile fields a user left empty.
    return "" if value is None else value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _lower(value: str) -> str:
    return value.lower()


def _not_in_future(value: date | None) -> date | None:
    # "Today" somewhere on Earth: the date at UTC+14, so nobody's real birthday is refused.
    latest = (datetime.now(UTC) + timedelta(hours=14)).date()
    if value is not None and value > latest:
        raise ValueError("date of birth cannot be in the future")
    return value


NullAsEmpty = BeforeValidator(_null_as_empty)
NULL_IN_SCHEMA = NullInSchema()


def _text(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


# Constraints come first so pydantic applies them to the stripped string; the before-validators
# wrap them (the last listed runs first).
FirstName = Annotated[str, _text(50, min_length=1)]
# Optional profile text: null and "" both mean "not given".
LastName = Annotated[str, _text(100), NullAsEmpty, NULL_IN_SCHEMA]
DisplayName = Annotated[str, _text(100), NullAsEmpty, NULL_IN_SCHEMA]
Phone = Annotated[str, _text(50), NullAsEmpty, NULL_IN_SCHEMA]
Street = Annotated[str, _text(200), NullAsEmpty, NULL_IN_SCHEMA]
Place = Annotated[str, _text(100), NullAsEmpty, NULL_IN_SCHEMA]
ZipCode = Annotated[str, _text(20), NullAsEmpty, NULL_IN_SCHEMA]


def _iso_date_text(value: object) -> object:
    # JSON has no date type: only an ISO string is one (lax parsing would read 0 as 1970-01-01).
    if value is not None and not isinstance(value, str):
        raise ValueError("a date is an ISO string, YYYY-MM-DD")
    return value


# Request bodies are strict, and strict dates refuse strings: parse this one leniently, strings only.
BirthDate = Annotated[
    date | None,
    Field(strict=False),
    BeforeValidator(_iso_date_text),
    AfterValidator(_not_in_future),
]

# A new address must be well-formed; like every stored email it is stripped and lower-cased.
NewEmail = Annotated[EmailStr, AfterValidator(_lower), BeforeValidator(_strip)]

# An address to look up is only normalised, so a v1 address email-validator dislikes still works.
LookupEmail = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=EMAIL_MAX_LENGTH,
        pattern=r"^[^@\s]+@[^@\s]+$",
    ),
    Field(examples=["ada@example.com"]),
]


class _OptionalProfile(RequestBody):
    """The profile fields sign-up and update share: all optional, "" (or null) when not given."""

    last_name: LastName = ""
    display_name: DisplayName = ""
    phone: Phone = ""
    street_1: Street = ""
    street_2: Street = ""
    city: Place = ""
    state: Place = ""
    zip_code: ZipCode = ""
    country: Place = ""
    dob: BirthDate = None


class UserCreate(_OptionalProfile):
    """Sign-up. An empty display name becomes first name + last initial ("Ada L.")."""

    email: NewEmail
    first_name: FirstName


class UserUpdate(_OptionalProfile):
    """Profile update: fields left out keep their value; null or "" clears an optional field.

    The email is the login identity and cannot change here. Sending the current address back
    (as a form that round-trips the profile does) is fine; another address is refused.
    """

    email: LookupEmail | None = None
    first_name: FirstName | None = None

    @model_validator(mode="after")
    def _first_name_not_cleared(self) -> UserUpdate:
        if "first_name" in self.model_fields_set and self.first_name is None:
            raise ValueError("first_name is required and cannot be null")
        return self


class UserPrivate(BaseModel):
    """What a user sees of their own account."""

    id: UserId
    email: str
    display_name: str
    first_name: str
    last_name: str
    phone: str
    street_1: str
    street_2: str
    city: str
    state: str
    zip_code: str
    country: str
    dob: date | None

    @classmethod
    def of(cls, user: User) -> UserPrivate:
        return cls(
            id=public_id(Entity.USER, user.seq),
            email=user.email,
            display_name=user.display_name,
            first_name=user.first_name,
            last_name=user.last_name,
            phone=user.phone,
            street_1=user.street_1,
            street_2=user.street_2,
            city=user.city,
            state=user.state,
            zip_code=user.zip_code,
            country=user.country,
            dob=user.dob,
        )


class UserExists(BaseModel):
    exists: bool
