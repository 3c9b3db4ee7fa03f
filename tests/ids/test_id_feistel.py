"""The keyed permutation: a bijection with its inverse, on full and cycle-walked domains."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.ids.feistel import FeistelPermutation

KEYS = [bytes([round_index]) * 32 for round_index in range(6)]
OTHER_KEYS = [bytes([round_index + 100]) * 32 for round_index in range(6)]


def test_permutes_a_full_small_domain_exhaustively() -> None:
    permutation = FeistelPermutation(KEYS, half_bits=6)
    assert permutation.domain == 4096
    images = [permutation.forward(value) for value in range(4096)]
    assert sorted(images) == list(range(4096))
    assert [permutation.inverse(image) for image in images] == list(range(4096))


@pytest.mark.parametrize("domain", [1, 2, 3000, 4095])
def test_cycle_walking_permutes_a_smaller_domain_exhaustively(domain: int) -> None:
    permutation = FeistelPermutation(KEYS, half_bits=6, domain=domain)
    images = [permutation.forward(value) for value in range(domain)]
    assert sorted(images) == list(range(domain))
    assert [permutation.inverse(image) for image in images] == list(range(domain))


def test_odd_half_width_and_four_rounds_permute_exhaustively() -> None:
    permutation = FeistelPermutation(KEYS[:4], half_bits=5, domain=1000)
    images = [permutation.forward(value) for value in range(1000)]
    assert sorted(images) == list(range(1000))
    assert [permutation.inverse(image) for image in images] == list(range(1000))


def test_keys_choose_the_permutation() -> None:
    first = FeistelPermutation(KEYS, half_bits=6)
    second = FeistelPermutation(OTHER_KEYS, half_bits=6)
    assert [first.forward(value) for value in range(4096)] != [
        second.forward(value) for value in range(4096)
    ]


def test_permutation_is_far_from_the_identity_and_from_monotone() -> None:
    permutation = FeistelPermutation(KEYS, half_bits=6)
    images = [permutation.forward(value) for value in range(4096)]
    fixed_points = sum(image == value for value, image in enumerate(images))
    ascents = sum(later > earlier for earlier, later in itertools.pairwise(images))
    assert fixed_points < 10  # about 1 expected for a random permutation
    assert 0.4 < ascents / 4095 < 0.6  # about a half for a random permutation


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=2**34 - 1))
def test_inverse_inverts_on_the_production_width(value: int) -> None:
    permutation = FeistelPermutation(KEYS, half_bits=17)
    image = permutation.forward(value)
    assert 0 <= image < 2**34
    assert permutation.inverse(image) == value


@pytest.mark.parametrize("value", [-1, 4096, 2**70])
def test_rejects_values_outside_the_domain(value: int) -> None:
    permutation = FeistelPermutation(KEYS, half_bits=6)
    with pytest.raises(ValueError):
        permutation.forward(value)
    with pytest.raises(ValueError):
        permutation.inverse(value)


def test_cycle_walked_permutation_rejects_values_between_domain_and_block() -> None:
    permutation = FeistelPermutation(KEYS, half_bits=6, domain=3000)
    with pytest.raises(ValueError):
        permutation.forward(3000)


def test_needs_at_least_four_rounds() -> None:
    with pytest.raises(ValueError, match="at least 4 rounds"):
        FeistelPermutation(KEYS[:3], half_bits=6)


@pytest.mark.parametrize(("half_bits", "domain"), [(0, None), (6, 0), (6, 4097)])
def test_rejects_impossible_shapes(half_bits: int, domain: int | None) -> None:
    with pytest.raises(ValueError):
        FeistelPermutation(KEYS, half_bits=half_bits, domain=domain)
