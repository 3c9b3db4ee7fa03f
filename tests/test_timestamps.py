from __future__ import annotations

from datetime import UTC, datetime

import pytest

from podium.backfill.cli import parse_since as backfill_since
from podium.timestamps import parse_since


@pytest.mark.parametrize(
    "text", ["2026-06-01T18:00:00Z", "2026-06-01T20:00:00+02:00", "2026-06-01T18:00:00+00:00"]
)
def test_a_time_with_a_zone_is_read_in_utc(text: str) -> None:
    assert parse_since(text) == datetime(2026, 6, 1, 18, tzinfo=UTC)
    assert parse_since(text).tzinfo is UTC


@pytest.mark.parametrize("parse", [parse_since, backfill_since])
def test_a_time_without_a_zone_is_refused_by_every_tool(parse: object) -> None:
    assert callable(parse)
    with pytest.raises(ValueError, match="no time zone"):
        parse("2026-06-01T18:00:00")


def test_the_backfill_also_takes_last() -> None:
    assert backfill_since("last") is None
    assert backfill_since("2026-06-01T18:00:00Z") == datetime(2026, 6, 1, 18, tzinfo=UTC)
