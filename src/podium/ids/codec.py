"""Public IDs: (entity type, seq) <-> a short, typed, canonical, non-sequential string.

An ID is ``<marker>_<body>``: a one-letter marker naming the entity type, an underscore,
and a 7-character sqids string of the row's ``seq`` after a keyed permutation
(``feistel.py``). Every constant in this module fixes the string of every row; changing
any of them breaks every link in the wild, so they are frozen and the golden-vector tests
in ``tests/ids`` fail if one changes. See ``docs/public-ids.md``.
"""

import functools
import hashlib
from enum import StrEnum

from sqids import Sqids

from podium.ids.blocklist import BLOCKLIST
from podium.ids.feistel import FeistelPermutation


class Entity(StrEnum):
    """The entity types that have public IDs."""

    USER = "user"
    EVENT = "event"
    PROJECT = "project"
    VOTE = "vote"
    REFERRAL = "referral"
    TRASH = "trash"  # a trash entry (docs/trash.md): added after the others, changing none


# --- Frozen parameters (see the module docstring) -------------------------------------

ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
"""sqids 0.5.2's default alphabet, spelled out so a library release cannot change it."""

BODY_LENGTH = 7
"""Characters of the sqids part; passed to sqids as its minimum length."""

HALF_BITS = 17
ROUNDS = 6
"""Feistel rounds: above the Luby-Rackoff minimum of 4 for margin; each costs ~0.5 us."""

DOMAIN_SIZE = 1 << (2 * HALF_BITS)
"""2**34 = 17,179,869,184. Valid seqs are ``[1, DOMAIN_SIZE)``, which bounds each table
to 17,179,869,183 rows over its lifetime (sequence values are never reused)."""

NUMBER_OFFSET = (len(ALPHABET) - 1) ** 5
"""Added to the permuted value before sqids sees it. sqids writes a number in base 61
(the alphabet minus the prefix character), so the numbers
``[61**5, 61**5 + DOMAIN_SIZE)`` all have exactly six digits: the body is always the
prefix plus six digits, never padded. Padding would cost an alphabet shuffle on every
encode and decode of a small number."""

MARKERS: dict[Entity, str] = {
    Entity.USER: "u_",
    Entity.EVENT: "e_",
    Entity.PROJECT: "p_",
    Entity.VOTE: "v_",
    Entity.REFERRAL: "r_",
    Entity.TRASH: "t_",
}
"""The type marker. The underscore is outside the alphabet and in no blocklist word, so
a blocked word can never straddle marker and body: the sqids blocklist check of the body
covers the whole ID."""

_ROOT_KEY_PERSON = b"podium.ids.root"
_ROUND_KEY_PERSON = b"podium.ids.round"

DEVELOPMENT_ID_KEY = "podium-development-id-key-v1"
"""The key for development and tests. IDs made with it are public knowledge: never use
it for a deployment whose IDs must not reveal creation order."""

# --- Derived values ---------------------------------------------------------------------

MARKER_LENGTH = 2
ID_LENGTH = MARKER_LENGTH + BODY_LENGTH
_ALPHANUMERIC_CLASS = "[A-Za-z0-9]"
_MAX_NUMBER = NUMBER_OFFSET + DOMAIN_SIZE
_DIGIT_BASE = len(ALPHABET) - 1


@functools.cache
def _shared_sqids() -> Sqids:
    # Building a Sqids shuffles the alphabet and sorts the blocklist into match kinds;
    # it does not depend on the key, so every codec shares one.
    return Sqids(alphabet=ALPHABET, min_length=BODY_LENGTH, blocklist=sorted(BLOCKLIST))


@functools.cache
def _digit_values() -> dict[str, dict[str, int]]:
    """For each first character of a body, the value of every digit character after it.

    sqids writes one number as a prefix character followed by the number in base 61,
    big-endian, over an alphabet chosen by that prefix. The tables come from sqids
    itself, by decoding every prefix followed by one digit, so they follow the pinned
    library rather than a copy of its shuffle. They only propose a number: decode
    accepts it only if sqids encodes it back to the same string.
    """
    sqids = _shared_sqids()
    tables: dict[str, dict[str, int]] = {}
    for prefix in ALPHABET:
        table: dict[str, int] = {}
        for digit in ALPHABET:
            # The digit that is the separator for this prefix decodes to nothing.
            decoded = sqids.decode(prefix + digit)
            if decoded:
                table[digit] = decoded[0]
        if sorted(table.values()) != list(range(_DIGIT_BASE)):
            raise RuntimeError("sqids no longer writes numbers in base 61 digits")
        tables[prefix] = table
    return tables


def _round_keys(key: str, entity: Entity) -> list[bytes]:
    # Hashing the configured string first accepts keys of any length (BLAKE2b keys are
    # at most 64 bytes); a key per entity and round makes the same seq in two tables
    # give unrelated bodies, so IDs of different tables cannot be correlated.
    root = hashlib.blake2b(key.encode("utf-8"), digest_size=32, person=_ROOT_KEY_PERSON).digest()
    return [
        hashlib.blake2b(
            f"{entity.value}:{round_index}".encode("ascii"),
            key=root,
            digest_size=32,
            person=_ROUND_KEY_PERSON,
        ).digest()
        for round_index in range(ROUNDS)
    ]


class IdCodec:
    """Encodes and decodes the public IDs of every entity type under one key."""

    __slots__ = ("_digit_values", "_permutations", "_sqids")

    def __init__(self, key: str) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("the ID key must be a non-empty string")
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the ID key must be valid Unicode text") from None
        self._sqids = _shared_sqids()
        self._digit_values = _digit_values()
        self._permutations = {
            entity: FeistelPermutation(_round_keys(key, entity), HALF_BITS) for entity in Entity
        }

    def encode(self, entity: Entity, seq: int) -> str:
        """The public ID of the row of ``entity`` whose ``seq`` is given."""
        permutation = self._permutation(entity)
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise TypeError(f"seq must be an int, got {type(seq).__name__}")
        if not 1 <= seq < DOMAIN_SIZE:
            raise ValueError(f"seq must be in [1, {DOMAIN_SIZE}), got {seq}")
        number = permutation.forward(seq) + NUMBER_OFFSET
        return MARKERS[entity] + self._sqids.encode((number,))

    def decode(self, entity: Entity, public_id: str) -> int | None:
        """The seq named by ``public_id``, or None unless it is exactly
        ``encode(entity, seq)`` for some valid seq. Never raises for any ``public_id``."""
        permutation = self._permutation(entity)
        # Length and marker first: everything after them is then a fixed, small amount
        # of work, however long or strange the input.
        if (
            not isinstance(public_id, str)
            or len(public_id) != ID_LENGTH
            or not public_id.startswith(MARKERS[entity])
        ):
            return None
        # Read the number straight from the digits (see _digit_values), without running
        # sqids' slower general decoder on untrusted input.
        digit_values = self._digit_values.get(public_id[MARKER_LENGTH])
        if digit_values is None:
            return None
        number = 0
        for digit in public_id[MARKER_LENGTH + 1 :]:
            value = digit_values.get(digit)
            if value is None:
                return None
            number = number * _DIGIT_BASE + value
        if not NUMBER_OFFSET <= number < _MAX_NUMBER:
            return None
        # Many strings read as the same number (a blocked variant with another prefix
        # character, for one): only the exact string the encoder writes names the row.
        # This comparison is what makes decode canonical, whatever the reading above did.
        try:
            if self._sqids.encode((number,)) != public_id[MARKER_LENGTH:]:
                return None
        except ValueError:  # sqids gave up re-generating around the blocklist
            return None
        seq = permutation.inverse(number - NUMBER_OFFSET)
        # seq 0 is outside the valid range although the permutation covers it.
        return seq if seq >= 1 else None

    def _permutation(self, entity: Entity) -> FeistelPermutation:
        try:
            return self._permutations[entity]
        except KeyError:
            raise ValueError(f"unknown entity type: {entity!r}") from None


def id_pattern(entity: Entity) -> str:
    """An anchored regular expression every ID of ``entity`` matches (for OpenAPI).

    Matching it is necessary, not sufficient: only ``IdCodec.decode`` tells whether a
    string is an ID."""
    return f"^{MARKERS[Entity(entity)]}{_ALPHANUMERIC_CLASS}{{{BODY_LENGTH}}}$"


@functools.cache
def _development_codec() -> IdCodec:
    return IdCodec(DEVELOPMENT_ID_KEY)


def id_example(entity: Entity) -> str:
    """A stable example ID of ``entity`` for documentation: seq 1 under the dev key."""
    return _development_codec().encode(Entity(entity), 1)
