"""Rate limits, server errors and expired listings: survived, and the result is the same."""

from __future__ import annotations

import pytest
import requests

from podium.backfill.airtable import ListingKeepsExpiring, RetryPolicy
from podium.backfill.pipeline import Backfill
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, dump, source_for

pytestmark = pytest.mark.db


async def test_429s_5xx_and_expired_listings_are_survived(
    messy_base: GeneratedBase, reference_dump: object, database: str
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        fake.rate_limit_next(3)
        fake.fail_next(2, status=503)
        fake.fail_next(1, status=500, table="projects")
        fake.fail_next(2, status=502, table="votes")
        fake.fail_next(1, status=504, table="referrals")
        fake.expire_next_offsets(2, table="users")
        fake.expire_next_offsets(1, table="votes")
        source = source_for(fake)
        result = await Backfill(source, database).run()
        assert fake.pending_faults == 0
    assert result.read_stats["rate_limited"] == 3
    assert result.read_stats["retried"] == 6
    assert result.read_stats["restarts"] == 3
    assert await dump(database) == reference_dump


async def test_the_client_stays_under_the_rate_limit(
    messy_base: GeneratedBase, database: str
) -> None:
    # The fake refuses an 11th request within any 0.2 s; the client uses the whole budget,
    # with two listings in flight at once, and is never refused.
    with FakeAirtable(messy_base.tables, rate_limit=50, rate_limit_window=0.2) as fake:
        client = source_for(fake, requests_per_second=50, rate_window=0.2, concurrency=2)
        result = await Backfill(client, database).run()
        assert fake.rate_limited == 0
    assert result.read_stats["rate_limited"] == 0


async def test_a_client_too_fast_for_the_limit_waits_out_the_429s(
    messy_base: GeneratedBase, reference_dump: object, database: str
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=50, rate_limit_window=0.2) as fake:
        result = await Backfill(source_for(fake, requests_per_second=1000), database).run()
        assert fake.rate_limited > 0
    assert result.read_stats["rate_limited"] == fake.rate_limited
    assert await dump(database) == reference_dump


async def test_a_run_stopped_by_a_persistent_error_resumes_where_it_stopped(
    messy_base: GeneratedBase, reference_dump: object, database: str
) -> None:
    with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
        fake.fail_next(50, status=500, table="projects")
        # One listing at a time, so the tables before projects are certainly committed.
        impatient = source_for(fake, policy=RetryPolicy(max_retries=2, backoff=0.01), concurrency=1)
        with pytest.raises(requests.HTTPError):
            await Backfill(impatient, database).run()
        fake.clear_faults()
        result = await backfill(fake, database).run()
    assert result.resumed == ["users", "events"]
    assert await dump(database) == reference_dump


async def test_a_listing_that_keeps_expiring_fails_loudly(
    messy_base: GeneratedBase, database: str
) -> None:
    with (
        FakeAirtable(messy_base.tables, rate_limit=None, offset_max_pages=1) as fake,
        pytest.raises(ListingKeepsExpiring),
    ):
        await backfill(fake, database).run()
