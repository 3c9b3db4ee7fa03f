"""A keyed permutation of ``range(domain)``: a balanced Feistel network, cycle-walked.

Public IDs must not reveal creation order or row counts, yet every row needs exactly one
ID and decoding must need no lookup. A keyed permutation of the sequence numbers gives
all three: it is a bijection (one ID per row, invertible without a table) and, without
the key, consecutive inputs give unrelated outputs.

A Feistel network is a bijection whatever its round function, so the round function can
simply be a keyed hash (BLAKE2b in keyed mode is a PRF, faster than HMAC). It permutes
``2 * half_bits``-bit integers; a smaller domain is handled by cycle walking: apply the
network again until the value falls back inside the domain. Because the network is a
bijection on the larger set, walking along its cycles is a bijection on the domain.
"""

import hashlib
from collections.abc import Sequence

MIN_ROUNDS = 4
"""Four rounds is the least for which a Feistel network with a pseudo-random round
function is a strong pseudo-random permutation (Luby-Rackoff)."""

_ROUND_DIGEST_SIZE = 8
"""Bytes per round-function output; only the low ``half_bits`` bits are used."""


class FeistelPermutation:
    """A keyed bijection on ``range(domain)`` (``forward``) with its inverse (``inverse``).

    One round per key in ``round_keys``. ``domain`` defaults to ``2 ** (2 * half_bits)``,
    in which case no cycle walking ever happens.
    """

    __slots__ = ("_domain", "_half_bits", "_half_bytes", "_half_mask", "_round_hashers")

    def __init__(
        self, round_keys: Sequence[bytes], half_bits: int, domain: int | None = None
    ) -> None:
        if len(round_keys) < MIN_ROUNDS:
            raise ValueError(f"a Feistel network needs at least {MIN_ROUNDS} rounds")
        if half_bits < 1:
            raise ValueError("half_bits must be at least 1")
        full_size = 1 << (2 * half_bits)
        if domain is None:
            domain = full_size
        if not 1 <= domain <= full_size:
            raise ValueError(f"domain must be in [1, {full_size}], got {domain}")
        self._half_bits = half_bits
        self._half_bytes = (half_bits + 7) // 8
        self._half_mask = (1 << half_bits) - 1
        self._domain = domain
        # Keyed hashers are built once; each round copies one (cheaper than re-keying).
        self._round_hashers = tuple(
            hashlib.blake2b(key=key, digest_size=_ROUND_DIGEST_SIZE) for key in round_keys
        )

    @property
    def domain(self) -> int:
        """The number of values permuted: the permutation acts on ``range(domain)``."""
        return self._domain

    def forward(self, value: int) -> int:
        """The image of ``value``, in ``range(domain)``."""
        self._check(value)
        value = self._network(value)
        while value >= self._domain:
            value = self._network(value)
        return value

    def inverse(self, value: int) -> int:
        """The preimage of ``value``: ``inverse(forward(x)) == x``."""
        self._check(value)
        value = self._network_inverse(value)
        while value >= self._domain:
            value = self._network_inverse(value)
        return value

    def _check(self, value: int) -> None:
        if not 0 <= value < self._domain:
            raise ValueError(f"value must be in [0, {self._domain}), got {value}")

    # The round function is inlined in both loops: a method call per round would cost
    # about a fifth of the permutation's time.
    def _network(self, value: int) -> int:
        half_bits, half_bytes, half_mask = self._half_bits, self._half_bytes, self._half_mask
        left, right = value >> half_bits, value & half_mask
        for hasher in self._round_hashers:
            round_hasher = hasher.copy()
            round_hasher.update(right.to_bytes(half_bytes, "big"))
            mixed = int.from_bytes(round_hasher.digest(), "big") & half_mask
            left, right = right, left ^ mixed
        return (left << half_bits) | right

    def _network_inverse(self, value: int) -> int:
        half_bits, half_bytes, half_mask = self._half_bits, self._half_bytes, self._half_mask
        left, right = value >> half_bits, value & half_mask
        for hasher in reversed(self._round_hashers):
            round_hasher = hasher.copy()
            round_hasher.update(left.to_bytes(half_bytes, "big"))
            mixed = int.from_bytes(round_hasher.digest(), "big") & half_mask
            left, right = right ^ mixed, left
        return (left << half_bits) | right
