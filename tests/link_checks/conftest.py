from __future__ import annotations

from collections.abc import Iterator

import pytest

from podium_devtools.fake_links import FakeLinks


@pytest.fixture
def fake() -> Iterator[FakeLinks]:
    """The fake GitHub API and web pages on 127.0.0.1, for one test."""
    with FakeLinks() as links:
        yield links
