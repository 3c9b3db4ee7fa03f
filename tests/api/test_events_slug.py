"""Slugs from event names: the shape the database's CHECK demands, for any name."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from podium.services.events import SLUG_MAX_LENGTH, slugify

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@given(st.text(max_size=300))
def test_slug_is_empty_or_dash_separated_lower_case_words(name: str) -> None:
    slug = slugify(name)
    assert slug == "" or SLUG.match(slug)
    assert len(slug) <= SLUG_MAX_LENGTH


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=50))
def test_slug_of_a_slug_is_itself(slug: str) -> None:
    assert slugify(slug) == slug


@given(st.text(st.characters(max_codepoint=127), max_size=100))
def test_slug_ignores_case_and_surrounding_punctuation(name: str) -> None:
    assert slugify(name.upper()) == slugify(name.lower())
    assert slugify(f" -- {name[:40]} !! ") == slugify(name[:40])
