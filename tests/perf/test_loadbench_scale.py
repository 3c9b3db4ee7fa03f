"""The load benchmark's scale plan (benchmarks/load.py --scale): its shape keeps the seed's rules
possible, and the chunked writer stores the same rows, counters and rules as the one-shot one.

No timing here: the benchmark's figures are measured, not asserted."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from benchmarks.loadbench.seed import (
    SeedPlan,
    generate,
    scale_plan,
    seed_database,
    write,
)
from tests.conftest import PgServer

from podium.services.access import max_votes_per_user

# The benchmark's own modules import each other as `loadbench` (load.py puts benchmarks/ on the
# path); the SQL checks of the voting rules are among them.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from loadbench import checks

pytestmark = pytest.mark.db

# The scale plan's shape at a hundredth of the rows: a big, a medium and small events.
TINY = SeedPlan(
    small_events=4,
    small_event_projects=20,
    big_event_projects=100,
    attendees=1000,
    votes=3000,
    burst_voters=20,
    big_event_share=0.4,
    small_event_share=0.16,
    medium_events=1,
    medium_event_projects=50,
    medium_event_share=0.2,
)


def test_scale_plan_is_ten_times_the_default_and_fits_the_rules() -> None:
    assert scale_plan(1) == SeedPlan()
    plan = scale_plan(10)
    sizes, attendances = plan.event_sizes(), plan.attendances()
    assert sizes[0] == 5000 and sizes.count(1000) == 1 and sizes.count(200) == 220
    assert sum(sizes) == 50_000
    assert plan.votes == 1_000_000
    # event_attendees: a few hundred thousand rows, not millions.
    assert 300_000 <= sum(attendances) <= 500_000
    # Teams of up to 4, disjoint within an event: every event can staff its projects.
    assert all(people >= 4 * projects for people, projects in zip(attendances, sizes, strict=True))
    # The votes fit their voters: the big and medium events' attendees vote in full (the big
    # one keeps its burst voters apart), the small events share the rest.
    full = [(attendances[0] - plan.burst_voters) * 3] + [a * 3 for a in attendances[1:2]]
    per_small = (plan.votes - sum(full)) / plan.small_events
    assert 0 < per_small <= attendances[-1] * max_votes_per_user(200)


@pytest.fixture
async def two_databases(pg_server: PgServer, migrated_template: str) -> AsyncIterator[list[str]]:
    names = [f"podium_scale_{secrets.token_hex(3)}" for _ in range(2)]
    urls = [await pg_server.create_database(name, template=migrated_template) for name in names]
    try:
        yield urls
    finally:
        for name in names:
            await pg_server.drop_database(name)


async def _contents(conn: asyncpg.Connection) -> dict[str, object]:
    return {
        "votes": await conn.fetch("SELECT * FROM votes ORDER BY seq"),
        "attendees": await conn.fetch("SELECT * FROM event_attendees ORDER BY seq"),
        "projects": await conn.fetch("SELECT * FROM projects ORDER BY seq"),
        "collaborators": await conn.fetch("SELECT * FROM project_collaborators ORDER BY seq"),
        "revisions": await conn.fetch(
            "SELECT e.seq, r.content_revision, r.votes_revision FROM event_revisions r "
            "JOIN events e ON e.id = r.event_id ORDER BY e.seq"
        ),
        "next_vote_seq": await conn.fetchval("SELECT nextval('votes_seq_seq')"),
    }


async def test_chunked_seed_stores_the_rows_by_the_rules(two_databases: list[str]) -> None:
    chunked_url, one_shot_url = two_databases
    conn = await asyncpg.connect(chunked_url)
    try:
        seeded = await seed_database(conn, TINY, chunk_rows=300)
        stored = await _contents(conn)
        violations = await checks.rule_violations(conn)
        triggers = await conn.fetch(
            "SELECT tgname, tgenabled::text AS tgenabled FROM pg_trigger WHERE tgname LIKE '%bump_event_revision'"
        )
    finally:
        await conn.close()
    dataset = seeded.dataset
    assert seeded.chunks > 5  # written as it was made, not at the end
    assert [len(e.project_seqs) for e in dataset.events] == TINY.event_sizes()
    assert dataset.counts["votes"] == TINY.votes == len(stored["votes"])  # type: ignore[arg-type]
    assert violations == dict.fromkeys(checks.RULES, 0)
    assert triggers and all(row["tgenabled"] == "O" for row in triggers)  # on again

    # The same plan through generate() + write(), triggers on: the same rows, and the revision
    # counters the triggers kept equal to the ones the chunked seed computed.
    rows, one_shot = generate(TINY, now=None)
    conn = await asyncpg.connect(one_shot_url)
    try:
        await write(conn, rows)
        expected = await _contents(conn)
    finally:
        await conn.close()
    assert one_shot.counts == dataset.counts
    for key in ("votes", "attendees", "projects", "collaborators"):
        # created_at depends on `now`; ids, seqs and references do not.
        strip = lambda records: [  # noqa: E731
            {k: v for k, v in dict(r).items() if k not in ("created_at", "updated_at")}
            for r in records
        ]
        assert strip(stored[key]) == strip(expected[key]), key  # type: ignore[arg-type]
    assert stored["revisions"] == expected["revisions"]
    assert stored["next_vote_seq"] == expected["next_vote_seq"] == TINY.votes + 1
