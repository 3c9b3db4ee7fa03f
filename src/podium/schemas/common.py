"""Shapes more than one route family returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

from podium.ids import Entity
from podium.models import User
from podium.public_ids import UserId, public_id


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
