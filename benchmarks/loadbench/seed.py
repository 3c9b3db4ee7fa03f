"""A realistic, reproducible database for the load benchmark, written with COPY.

The shape (defaults): 20 events of 200 projects and one of 1,000, 5,000 attendees, 100,000 votes.
`scale_plan(10)`: the same routes' data 10x larger (one event of 5,000 projects, one of 1,000,
220 of 200; 50,000 attendees, 1,000,000 votes), written by `seed_database` in chunks so memory
stays bounded.
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
import resource
import time
import uuid
from collections.abc import Iterator
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
    # Events between the big one and the small ones (the scale plan's 1,000-project event, so
    # one database has lists of 200, 1,000 and 5,000); every attendee of theirs votes in full.
    medium_events: int = 0
    medium_event_projects: int = 1000
    medium_event_share: float = 0.0

    def event_sizes(self) -> list[int]:
        """Projects per event, in the order the events are generated: big, medium, small."""
        return (
            [self.big_event_projects]
            + [self.medium_event_projects] * self.medium_events
            + [self.small_event_projects] * self.small_events
        )

    def attendances(self) -> list[int]:
        """Attendees per event, in the order of `event_sizes`."""
        return (
            [round(self.attendees * self.big_event_share)]
            + [round(self.attendees * self.medium_event_share)] * self.medium_events
            + [round(self.attendees * self.small_event_share)] * self.small_events
        )


# The scale plan's units: the default plan's 5,000 projects, 5,000 attendees and 100,000 votes
# per unit of scale; the lists' query ceiling (5,000 projects) caps the big event.
PROJECTS_PER_SCALE = 5000
BIG_EVENT_PROJECTS_PER_SCALE = 1000
LIST_CEILING = 5000
# Attendees per project in the big and medium events (teams average 2 people; the rest vote),
# and per small event as in the default plan (1,600 for 200 projects): event_attendees grows
# with the number of events, not with the number of users.
ATTENDEES_PER_BIG_PROJECT = 4
SMALL_EVENT_ATTENDEES = 1600


def scale_plan(factor: int) -> SeedPlan:
    """The default plan at `factor` times its size: `factor` x the projects, attendees (users)
    and votes. 1 is the default plan; 10 has one event of 5,000 projects, one of 1,000 and 220
    of 200, 50,000 attendees, 380,000 attendances and 1,000,000 votes.

    Each user attends about as many events as in the default plan (a share of 1,600 / users
    per small event), so event_attendees stays at a few hundred thousand rows."""
    if factor < 1:
        raise ValueError("scale factor must be at least 1")
    default = SeedPlan()
    if factor == 1:
        return default
    attendees = default.attendees * factor
    big = min(BIG_EVENT_PROJECTS_PER_SCALE * factor, LIST_CEILING)
    medium = 1 if big > default.big_event_projects else 0
    rest = PROJECTS_PER_SCALE * factor - big - medium * default.big_event_projects
    return SeedPlan(
        small_events=rest // default.small_event_projects,
        small_event_projects=default.small_event_projects,
        big_event_projects=big,
        attendees=attendees,
        votes=default.votes * factor,
        burst_voters=default.burst_voters,
        big_event_share=ATTENDEES_PER_BIG_PROJECT * big / attendees,
        small_event_share=SMALL_EVENT_ATTENDEES / attendees,
        medium_events=medium,
        medium_event_projects=default.big_event_projects,
        medium_event_share=ATTENDEES_PER_BIG_PROJECT * default.big_event_projects / attendees,
    )


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
    medium: list[SeededEvent] = field(default_factory=list)

    @property
    def events(self) -> list[SeededEvent]:
        return [self.big, *self.medium, *self.small]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


class _Rows:
    """Rows per table not written yet, with the next `seq` of each and the count of all rows
    made (written or not)."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {}
        self.counts: dict[str, int] = {}
        self.buffered = 0
        # seq -> id of every project: the votes need it after the projects' rows are written.
        self.project_ids: dict[int, uuid.UUID] = {}
        self._seq: dict[str, itertools.count[int]] = {}

    def next_seq(self, table: str) -> int:
        return next(self._seq.setdefault(table, itertools.count(1)))

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables.setdefault(table, []).append(row)
        self.counts[table] = self.counts.get(table, 0) + 1
        self.buffered += 1

    def take(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """The buffered rows, parents' tables first (the foreign keys), and forget them."""
        taken = [(table, self.tables[table]) for table in TABLE_ORDER if self.tables.get(table)]
        self.tables, self.buffered = {}, 0
        return taken


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
    rows = _Rows()
    steps = _steps(plan, now or datetime.now(UTC), rows)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            dataset: Dataset = done.value
            break
    dataset.seconds = time.perf_counter() - started
    return rows, dataset


def _steps(plan: SeedPlan, now: datetime, rows: _Rows) -> Iterator[None]:
    """Adds the rows to `rows`, pausing (a yield) after each event's attendees and projects and
    after each event's votes, where the rows so far may be written and dropped; returns the
    Dataset. Every parent row is made before its children, so rows written at any pause in
    TABLE_ORDER satisfy the foreign keys."""
    rng = random.Random(plan.rng_seed)

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

    sizes = plan.event_sizes()
    attendances = plan.attendances()
    medium = range(1, 1 + plan.medium_events)
    big_votes = (attendances[0] - plan.burst_voters) * max_votes_per_user(sizes[0])
    medium_votes = [attendances[i] * max_votes_per_user(sizes[i]) for i in medium]
    small_votes = max(0, plan.votes - big_votes - sum(medium_votes))

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
        members = rng.sample(attendees, min(attendances[index], len(attendees)))
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
        yield

    big, middle, small = events[0], events[1 : 1 + len(medium)], events[1 + len(medium) :]
    _add_votes(rows, rng, big, user_ids, big_votes, reserved=plan.burst_voters)
    yield
    for event, target in zip(middle, medium_votes, strict=True):
        _add_votes(rows, rng, event, user_ids, target, reserved=0)
        yield
    per_small = _split(small_votes, len(small))
    for event, target in zip(small, per_small, strict=True):
        _add_votes(rows, rng, event, user_ids, target, reserved=0)
        yield

    counts = {table: rows.counts.get(table, 0) for table in TABLE_ORDER}
    return Dataset(big, small, counts, 0.0, medium=middle)


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
        rows.project_ids[seq] = project_id
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
    project_ids = rows.project_ids
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


# The event_revisions triggers (deferred, one upsert of the event's counter row per row
# inserted, all at commit): a million votes in one transaction would queue a million upserts of
# a few rows at commit, each walking the row's versions made by the same transaction. The seed
# turns them off while it writes and sets the counters to what they would have counted.
REVISION_TRIGGERS = {
    "projects": "projects_bump_event_revision",
    "project_collaborators": "project_collaborators_bump_event_revision",
    "votes": "votes_bump_event_revision",
}
REVISION_COUNTS = """
INSERT INTO event_revisions (event_id, content_revision, votes_revision)
SELECT e.id,
       (SELECT count(*) FROM projects p WHERE p.event_id = e.id)
         + (SELECT count(*) FROM project_collaborators c JOIN projects p ON p.id = c.project_id
            WHERE p.event_id = e.id),
       (SELECT count(*) FROM votes v WHERE v.event_id = e.id)
FROM events e
WHERE EXISTS (SELECT 1 FROM projects p WHERE p.event_id = e.id)
   OR EXISTS (SELECT 1 FROM votes v WHERE v.event_id = e.id)
"""
# Rows held in memory before they are written: ~100 MB of Python tuples at most.
CHUNK_ROWS = 200_000


@dataclass
class SeedReport:
    dataset: Dataset
    generate_seconds: float  # making the rows in Python
    copy_seconds: float  # COPY, sequences, revision counters, commit
    vacuum_seconds: float  # VACUUM ANALYZE
    chunks: int
    peak_rss_bytes: int  # of this process, at the end of the seed (ru_maxrss)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.dataset.counts,
            "generate_seconds": self.generate_seconds,
            "write_seconds": self.copy_seconds + self.vacuum_seconds,
            "copy_seconds": self.copy_seconds,
            "vacuum_seconds": self.vacuum_seconds,
            "chunks": self.chunks,
            "peak_rss_bytes": self.peak_rss_bytes,
        }


def peak_rss_bytes() -> int:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def seed_database(
    conn: asyncpg.Connection,
    plan: SeedPlan,
    *,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
) -> SeedReport:
    """Generate `plan`'s rows and COPY them as they are made, whenever `chunk_rows` are held,
    in one transaction; then the sequences, the revision counters and VACUUM ANALYZE. The
    same rows as `generate` + `write` (same RNG draws, same order), in bounded memory."""
    rows = _Rows()
    steps = _steps(plan, now or datetime.now(UTC), rows)
    generating = copying = 0.0
    chunks = 0

    async def flush() -> None:
        nonlocal copying, chunks
        started = time.perf_counter()
        for table, records in rows.take():
            await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table])
        copying += time.perf_counter() - started
        chunks += 1

    async with conn.transaction():
        for table, trigger in REVISION_TRIGGERS.items():
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        while True:
            started = time.perf_counter()
            try:
                next(steps)
            except StopIteration as done:
                dataset: Dataset = done.value
                generating += time.perf_counter() - started
                break
            generating += time.perf_counter() - started
            if rows.buffered >= chunk_rows:
                await flush()
        await flush()
        started = time.perf_counter()
        for table in TABLE_ORDER:
            if rows.counts.get(table):
                await conn.execute(
                    f"SELECT setval('{table}_seq_seq', (SELECT max(seq) FROM {table}))"
                )
        await conn.execute(REVISION_COUNTS)
        for table, trigger in REVISION_TRIGGERS.items():
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
    copying += time.perf_counter() - started  # with the commit
    started = time.perf_counter()
    # Statistics and the visibility map as autovacuum would leave them on a live server.
    await conn.execute("VACUUM ANALYZE")
    vacuuming = time.perf_counter() - started
    dataset.seconds = generating
    rows.project_ids.clear()
    return SeedReport(dataset, generating, copying, vacuuming, chunks, peak_rss_bytes())
