"""A realistic, reproducible database for the load benchmark, written with COPY.

The shape (defaults): 20 events of 200 projects and one of 1,000, 5,000 attendees, 100,000 votes.
Everything the rules require holds by construction: voters attend the event, never vote for a
project they own or collaborate on, cast at most `max_votes_per_user` votes per event, and no
voter votes twice for a project. Teams are disjoint within an event. Popularity is skewed (a few
projects collect most votes), so leaderboards have a real order.

Rows are generated in Python from a seeded RNG and written with `copy_records_to_table` (binary
COPY) in one transaction; `seq` values are set explicitly and the sequences moved past them.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from podium.services.access import max_votes_per_user

EMAIL_DOMAIN = "bench.podium.dev"
# A team is its owner plus collaborators: 1 to 4 people, two on average.
TEAM_SIZES = (1, 2, 3, 4)
TEAM_SIZE_WEIGHTS = (40, 30, 20, 10)
# Popularity ~ 1/rank^s: the top projects of an event collect most of its votes.
POPULARITY_EXPONENT = 0.8

_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Tim",
    "Frances",
    "Edsger",
    "Hedy",
    "John",
    "Sophie",
    "Guido",
    "Anita",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Perlman",
    "Lee",
    "Allen",
    "Dijkstra",
    "Lamarr",
    "Backus",
    "Wilson",
]
_WORDS = [
    "solar",
    "tracker",
    "chat",
    "bot",
    "game",
    "garden",
    "map",
    "music",
    "notes",
    "quiz",
    "robot",
    "weather",
    "budget",
    "recipe",
    "vision",
    "lamp",
    "drone",
    "sensor",
    "tutor",
    "habit",
    "bike",
    "library",
    "pixel",
    "story",
    "market",
    "clock",
]


@dataclass(frozen=True)
class SeedPlan:
    small_events: int = 20
    small_event_projects: int = 200
    big_event_projects: int = 1000
    attendees: int = 5000
    votes: int = 100_000
    # Attendees of the big event left without votes, for the voting burst.
    burst_voters: int = 500
    # Share of all attendees in the big event, and in each small one.
    big_event_share: float = 0.8
    small_event_share: float = 0.32
    referral_share: float = 0.1
    rng_seed: int = 2026


@dataclass
class SeededEvent:
    seq: int
    id: uuid.UUID
    owner_email: str
    project_seqs: list[int]
    attendee_emails: list[str]
    # email -> seqs of the projects that attendee owns or collaborates on in this event
    own_projects: dict[str, set[int]] = field(default_factory=dict)
    # attendees who cast no vote in the seed (the burst's voters in the big event)
    non_voters: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    big: SeededEvent
    small: list[SeededEvent]
    counts: dict[str, int]
    seconds: float

    @property
    def events(self) -> list[SeededEvent]:
        return [self.big, *self.small]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


class _Rows:
    """Rows per table, with the next `seq` of each."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {}
        self._seq: dict[str, itertools.count[int]] = {}

    def next_seq(self, table: str) -> int:
        return next(self._seq.setdefault(table, itertools.count(1)))

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables.setdefault(table, []).append(row)


COLUMNS = {
    "users": (
        "id",
        "seq",
        "email",
        "display_name",
        "first_name",
        "last_name",
        "phone",
        "city",
        "country",
        "created_at",
    ),
    "events": (
        "id",
        "seq",
        "name",
        "slug",
        "description",
        "join_code",
        "owner_id",
        "phase",
        "live_leaderboard",
        "created_at",
    ),
    "event_attendees": ("id", "seq", "event_id", "user_id", "created_at"),
    "projects": (
        "id",
        "seq",
        "name",
        "repo",
        "image_url",
        "demo",
        "description",
        "hours_spent",
        "join_code",
        "owner_id",
        "event_id",
        "created_at",
    ),
    "project_collaborators": ("id", "seq", "project_id", "user_id", "created_at"),
    "votes": ("id", "seq", "voter_id", "project_id", "event_id", "created_at"),
    "referrals": ("id", "seq", "content", "user_id", "event_id", "created_at"),
}
# Parents before children, for the foreign keys.
TABLE_ORDER = tuple(COLUMNS)


def generate(plan: SeedPlan, now: datetime | None = None) -> tuple[_Rows, Dataset]:
    """Every row of the benchmark database, and what the load needs to know about them."""
    started = time.perf_counter()
    rng = random.Random(plan.rng_seed)
    now = now or datetime.now(UTC)
    rows = _Rows()

    user_ids: dict[str, uuid.UUID] = {}

    def add_user(email: str, created: datetime) -> None:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        user_ids[email] = _uuid(rng)
        rows.add(
            "users",
            (
                user_ids[email],
                rows.next_seq("users"),
                email,
                f"{first} {last[0]}.",
                first,
                last,
                f"+1555{rng.randrange(10**7):07d}",
                "Burlington",
                "US",
                created,
            ),
        )

    attendees = [f"attendee{i:05d}@{EMAIL_DOMAIN}" for i in range(plan.attendees)]
    for email in attendees:
        add_user(email, now - timedelta(days=rng.uniform(30, 400)))

    sizes = [plan.big_event_projects] + [plan.small_event_projects] * plan.small_events
    big_attendance = round(plan.attendees * plan.big_event_share)
    small_attendance = round(plan.attendees * plan.small_event_share)
    big_votes = (big_attendance - plan.burst_voters) * max_votes_per_user(sizes[0])
    small_votes = max(0, plan.votes - big_votes)

    events: list[SeededEvent] = []
    for index, project_count in enumerate(sizes):
        owner_email = f"organiser{index:02d}@{EMAIL_DOMAIN}"
        start = now - timedelta(days=2 + index)
        add_user(owner_email, start - timedelta(days=60))
        event_id, event_seq = _uuid(rng), rows.next_seq("events")
        rows.add(
            "events",
            (
                event_id,
                event_seq,
                f"Bench Hackathon {index}",
                f"bench-hackathon-{index}",
                _sentence(rng, 30),
                f"BENCH{index:03d}",
                user_ids[owner_email],
                "voting",
                True,
                start - timedelta(days=30),
            ),
        )
        size = big_attendance if index == 0 else small_attendance
        members = rng.sample(attendees, min(size, len(attendees)))
        for email in members:
            rows.add(
                "event_attendees",
                (
                    _uuid(rng),
                    rows.next_seq("event_attendees"),
                    event_id,
                    user_ids[email],
                    start - timedelta(hours=rng.uniform(1, 200)),
                ),
            )
            if rng.random() < plan.referral_share:
                rows.add(
                    "referrals",
                    (
                        _uuid(rng),
                        rows.next_seq("referrals"),
                        f"heard of it from {_sentence(rng, 3)}",
                        user_ids[email],
                        event_id,
                        start - timedelta(hours=rng.uniform(1, 200)),
                    ),
                )
        event = SeededEvent(event_seq, event_id, owner_email, [], members)
        _add_projects(rows, rng, event, project_count, user_ids, start)
        events.append(event)

    big, small = events[0], events[1:]
    _add_votes(rows, rng, big, user_ids, big_votes, reserved=plan.burst_voters)
    per_small = _split(small_votes, len(small))
    for event, target in zip(small, per_small, strict=True):
        _add_votes(rows, rng, event, user_ids, target, reserved=0)

    counts = {table: len(rows.tables.get(table, [])) for table in TABLE_ORDER}
    return rows, Dataset(big, small, counts, time.perf_counter() - started)


def _split(total: int, parts: int) -> list[int]:
    if parts == 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _add_projects(
    rows: _Rows,
    rng: random.Random,
    event: SeededEvent,
    count: int,
    user_ids: dict[str, uuid.UUID],
    start: datetime,
) -> None:
    # Disjoint teams: each attendee is in at most one team of the event.
    pool = list(event.attendee_emails)
    rng.shuffle(pool)
    members = iter(pool)
    for _ in range(count):
        size = rng.choices(TEAM_SIZES, TEAM_SIZE_WEIGHTS)[0]
        team = list(itertools.islice(members, size))
        if not team:
            raise ValueError("not enough attendees for the projects of an event")
        seq = rows.next_seq("projects")
        project_id = _uuid(rng)
        created = start + timedelta(minutes=rng.uniform(0, 2880))
        title = _sentence(rng, 3).title()
        rows.add(
            "projects",
            (
                project_id,
                seq,
                title,
                f"https://github.com/bench/project-{seq}",
                f"https://img.{EMAIL_DOMAIN}/{seq}.png",
                f"https://demo.{EMAIL_DOMAIN}/{seq}",
                _sentence(rng, rng.randrange(20, 90)),
                rng.randrange(1, 48),
                f"BP{seq:06d}",
                user_ids[team[0]],
                event.id,
                created,
            ),
        )
        for collaborator in team[1:]:
            rows.add(
                "project_collaborators",
                (
                    _uuid(rng),
                    rows.next_seq("project_collaborators"),
                    project_id,
                    user_ids[collaborator],
                    created + timedelta(minutes=rng.uniform(1, 60)),
                ),
            )
        for email in team:
            event.own_projects.setdefault(email, set()).add(seq)
        event.project_seqs.append(seq)


def _add_votes(
    rows: _Rows,
    rng: random.Random,
    event: SeededEvent,
    user_ids: dict[str, uuid.UUID],
    target: int,
    *,
    reserved: int,
) -> None:
    """`target` votes in the event, each voter casting up to the event's limit."""
    limit = max_votes_per_user(len(event.project_seqs))
    ranked = list(event.project_seqs)
    rng.shuffle(ranked)
    cumulative = list(
        itertools.accumulate(1 / (rank + 1) ** POPULARITY_EXPONENT for rank in range(len(ranked)))
    )
    project_ids = {row[1]: row[0] for row in rows.tables["projects"] if row[10] == event.id}
    voters = list(event.attendee_emails)
    rng.shuffle(voters)
    event.non_voters = voters[:reserved]
    closing = datetime.now(UTC) - timedelta(hours=1)
    left = target
    for email in voters[reserved:]:
        if left <= 0:
            event.non_voters.append(email)
            continue
        own = event.own_projects.get(email, set())
        chosen: set[int] = set()
        wanted = min(limit, left, len(ranked) - len(own))
        while len(chosen) < wanted:
            pick = ranked[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
            if pick not in own:
                chosen.add(pick)
        for seq in chosen:
            rows.add(
                "votes",
                (
                    _uuid(rng),
                    rows.next_seq("votes"),
                    user_ids[email],
                    project_ids[seq],
                    event.id,
                    closing - timedelta(minutes=rng.uniform(0, 600)),
                ),
            )
        left -= len(chosen)
    if left > 0:
        raise ValueError(f"event {event.seq}: {left} votes did not fit its attendees")


async def write(conn: asyncpg.Connection, rows: _Rows) -> float:
    """COPY every row in one transaction, move the sequences on, then VACUUM ANALYZE."""
    started = time.perf_counter()
    async with conn.transaction():
        for table in TABLE_ORDER:
            records = rows.tables.get(table, [])
            if records:
                await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table])
                await conn.execute(
                    f"SELECT setval('{table}_seq_seq', (SELECT max(seq) FROM {table}))"
                )
    # Statistics and the visibility map as autovacuum would leave them on a live server.
    await conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started
