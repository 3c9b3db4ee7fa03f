"""Public IDs at the HTTP boundary: the process's codec, and the types routes and schemas use.

- Response fields: `EventId`, `ProjectId`, … (strings with the codec's pattern in the spec);
  build them with `public_id(Entity.EVENT, row.seq)`.
- Body fields that name an entity: `EventRef`, `ProjectRef`, … validate to the row's `seq`
  (a 422 for anything that is not a canonical ID of that type; a legacy `rec…` id gets a 422
  pointing at `/legacy/{id}`).
- Path parameters: see `podium.deps`, which loads the row or answers 404 (and 308 for legacy ids).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import AfterValidator, Field, WithJsonSchema

from podium.ids import DEVELOPMENT_ID_KEY, Entity, IdCodec, id_example, id_pattern, is_legacy_id

_codec = IdCodec(DEVELOPMENT_ID_KEY)

# Encoding costs ~15 us (Feistel rounds + sqids with its blocklist); a 1,000-project list shows
# ~4,000 IDs, so lists would spend most of their time here. An ID never changes for a given key,
# so a bounded per-process memo is safe with any number of workers.
ENCODE_CACHE_SIZE = 1 << 16


def configure_codec(key: str) -> None:
    """Install the deployment's permanent key (done once at start-up)."""
    global _codec
    _codec = IdCodec(key)
    public_id.cache_clear()


def current_codec() -> object:
    """The codec in use: what a memo of encoded IDs must be invalidated with."""
    return _codec


@functools.lru_cache(maxsize=ENCODE_CACHE_SIZE)
def public_id(entity: Entity, seq: int) -> str:
    return _codec.encode(entity, seq)


def decode_id(entity: Entity, value: str) -> int | None:
    return _codec.decode(entity, value)


def id_schema(entity: Entity) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": id_pattern(entity),
        "examples": [id_example(entity)],
        "description": f"Public {entity} ID",
    }


def _response_id(entity: Entity) -> Any:
    return Annotated[str, WithJsonSchema(id_schema(entity))]


def _reference(entity: Entity) -> Any:
    def to_seq(value: str) -> int:
        seq = decode_id(entity, value)
        if seq is None:
            if is_legacy_id(value):
                raise ValueError(
                    f"a v1 record id is not accepted here; resolve it with GET /legacy/{value}"
                )
            raise ValueError(f"not a valid {entity} ID")
        return seq

    return Annotated[
        str, Field(max_length=64), AfterValidator(to_seq), WithJsonSchema(id_schema(entity))
    ]


UserId = _response_id(Entity.USER)
EventId = _response_id(Entity.EVENT)
ProjectId = _response_id(Entity.PROJECT)
TrashId = _response_id(Entity.TRASH)
VoteId = _response_id(Entity.VOTE)
ReferralId = _response_id(Entity.REFERRAL)

# Body fields naming an existing entity; the validated value is that entity's `seq` (an int).
UserRef = _reference(Entity.USER)
EventRef = _reference(Entity.EVENT)
ProjectRef = _reference(Entity.PROJECT)
