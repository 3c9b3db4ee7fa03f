"""Shapes more than one route family returns."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
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


class RequestBody(BaseModel):
    """Base of every request body: strict types, so `0` is not `false` and `"5"` is not `5`."""

    model_config = ConfigDict(strict=True)


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

    items: list[T]
    next_cursor: str | None = None
