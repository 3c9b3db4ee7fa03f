"""Shapes more than one route family returns."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from podium.ids import Entity
from podium.models import User
from podium.public_ids import UserId, public_id


class NullInSchema:
    """Annotation marker: the field also takes JSON null (read as empty), and the spec says so."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        return {"anyOf": [schema, {"type": "null"}]}


def _storable_text(value: Any) -> None:
    """Refuse what PostgreSQL text cannot hold: NUL, and lone surrogates (not valid UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable_text(key)
            _storable_text(item)
    elif isinstance(value, list):
        for item in value:
            _storable_text(item)


class RequestBody(BaseModel):
    """Base of every request body: strict types, so `0` is not `false` and `"5"` is not `5`."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _only_storable_text(cls, data: Any) -> Any:
        # One check for every field and every body, however the schema nests them.
        _storable_text(data)
        return data


class UserPublic(BaseModel):
    """What anyone may see of a user."""

    id: UserId
    display_name: str

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=public_id(Entity.USER, user.seq), display_name=user.display_name)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list that grows without bound; pass `next_cursor` back as `cursor`."""

    # Always sent: the spec lists it as required, so generated clients need no `?`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    items: list[T]
    next_cursor: str | None = None
