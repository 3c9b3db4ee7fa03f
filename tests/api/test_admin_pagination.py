"""Page cursors: what the API hands out decodes back; nothing else decodes to a 500."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium.errors import ApiError
from podium.services.pagination import Cursor, decode_cursor, encode_cursor

stamps = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=14))]),
)


@given(stamps, st.integers(min_value=0, max_value=2**63 - 1))
def test_cursor_round_trips(created_at: datetime, seq: int) -> None:
    cursor = encode_cursor(created_at, seq)
    assert cursor.isascii() and "=" not in cursor
    assert decode_cursor(cursor) == Cursor(created_at, seq)


@given(st.text(max_size=200))
def test_any_other_text_is_an_invalid_cursor_or_a_key(value: str) -> None:
    try:
        decoded = decode_cursor(value)
    except ApiError as exc:
        assert (exc.status_code, exc.code) == (422, "invalid_cursor")
    else:
        assert decoded.created_at.tzinfo is not None and 0 <= decoded.seq < 2**63


@pytest.mark.parametrize(
    "raw",
    [
        "2026-01-01T00:00:00+00:00|-1",
        "2026-01-01T00:00:00+00:00|1|2",
        "0001-01-01T00:00:00+14:00|1",
        "2026-01-01T00:00:00+00:00|",
        "\xff",
    ],
)
def test_near_miss_cursors_are_422(raw: str) -> None:
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert caught.value.status_code == 422
