"""A seeded generator of realistic v1 Airtable bases, clean or with every kind of known mess.

    base = generate_base(50_000, seed=1)        # mess planted (default)
    base.tables["votes"][0]                    # {"id", "createdTime", "fields"}, as the API has it
    base.manifest.records["duplicate_vote"]    # ids of the records carrying that mess
    FakeAirtable(base.tables)                  # serve it

Shape: events of 5 to 300 projects (fewer when the base is small, so there are enough events),
teams of 1 to 4 attendees, attendees who come back to later events, votes up to the per-event limit
(3 with ≥20 projects, 2 with ≥4), referrals, and users who signed up and never joined. Records
are created in a plausible order (owners before events, attendees before projects, projects
before votes). The record count is exact: sign-ups that never joined fill the remainder.

With mess, each kind in MESS_KINDS is planted a known number of times on its own record (no
record carries two kinds, and the "original" a duplicate copies is left clean), and the manifest
lists exactly those records. Records that merely link to a messy record are not listed: a vote
of a user without an email is itself fine. A clean base (`mess=False`) has none of it: links
agree on both sides, lookups match links, points equal vote counts, every rule of SPEC §1 holds.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from podium_devtools.airtable_layout import (
    ID_ALPHABET,
    V1_LAYOUT,
    AirtableRecord,
    Link,
    Lookup,
    format_time,
    is_empty,
    lookup_value,
)

MESS_KINDS: Mapping[str, str] = {
    "email_case_duplicate": "user whose email equals an earlier user's after strip + lower-case "
    "(case and/or stray whitespace differ); the earlier user is clean",
    "user_missing_email": "user without an email (required)",
    "user_missing_first_name": "user without a first_name (required)",
    "event_missing_name": "event without a name (required)",
    "project_missing_name": "project without a name (required)",
    "vote_missing_link": "vote whose voter, project or event link is empty",
    "dangling_link": "record holding a link to a record id that exists nowhere (deleted): "
    "votes.project, votes.voter, events.attendees, projects.collaborators, referrals.user "
    "or projects.owner",
    "duplicate_vote": "second vote by the same voter for the same project (the first is clean)",
    "vote_cross_event": "vote whose project belongs to another event than the vote's event",
    "vote_by_non_attendee": "vote whose voter does not attend the vote's event",
    "vote_for_own_project": "vote by the project's owner or one of its collaborators",
    "points_mismatch": "project whose points (absent = 0) differ from its number of linked votes",
    "formula_error": "record with a lookup holding an error value: "
    '{"error": "#ERROR!"} or {"specialValue": "NaN"}',
    "sparse_record": "VALID record with every optional field and checkbox key absent (a user "
    "without display_name or address, an event without description or flags, a project "
    "without repo); must land with defaults",
    "invalid_dob": "user whose dob is not a real YYYY-MM-DD date (e.g. 1990-13-45)",
    "negative_hours_spent": "project with hours_spent < 0",
    "invalid_feature_flag": "event whose feature_flags_csv holds a name outside [a-zA-Z0-9_]+ "
    "(e.g. with spaces)",
    "invalid_quality_json": "project whose cached_auto_quality is not valid JSON",
    "duplicate_event_slug": "event whose slug equals an earlier event's (the earlier is clean)",
    "duplicate_event_join_code": "event whose join_code equals an earlier event's, ignoring "
    "case (the earlier one is clean)",
}

TIMELINE_START = datetime(2023, 1, 15, 17, 0, tzinfo=UTC)
TIMELINE_END = datetime(2025, 5, 15, 17, 0, tzinfo=UTC)
USER_OPTIONAL = (
    "display_name",
    "last_name",
    "phone",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip_code",
    "country",
    "dob",
)
EVENT_OPTIONAL = (
    "description",
    "votable",
    "leaderboard_enabled",
    "demo_links_optional",
    "ysws_checks_enabled",
    "feature_flags_csv",
)
PROJECT_OPTIONAL = ("repo", "image_url", "description", "hours_spent", "cached_auto_quality")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Ada Alan Amara Anya Arjun Beatriz Chen Dara Diego Elif Emeka Farah Finn Grace Hana "
    "Ibrahim Ines Jamal Jin Kai Kofi Lena Leo Lucia Mahnoor Mateo Mei Mina Nadia Noah Omar "
    "Priya Quinn Rafael Rosa Sami Sofia Tariq Theo Uma Valentina Wei Xavier Yara Yusuf Zara "
    "Zoe"
)
_LAST = _words(
    "Abara Becker Chowdhury Costa Dubois Eze Fischer Garcia Gupta Haddad Ito Jensen Kim "
    "Kowalski Larsen Lopez Mensah Moreau Nakamura Novak Okafor Olsen Patel Quispe Rossi "
    "Santos Schmidt Silva Tanaka Tran Usman Varga Wang Weber Xu Yilmaz Zhang"
)
_CITIES = (
    ("Burlington", "VT", "US"),
    ("Austin", "TX", "US"),
    ("Toronto", "ON", "CA"),
    ("Lagos", "LA", "NG"),
    ("Pune", "MH", "IN"),
    ("Leeds", "WYK", "GB"),
    ("Porto", "13", "PT"),
    ("Osaka", "27", "JP"),
)
_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "school.edu", "yahoo.com", "icloud.com")
_ADJECTIVES = _words(
    "Boreal Cobalt Crimson Electric Golden Hidden Lunar Midnight Neon Quantum Rapid Silent "
    "Solar Velvet Wild Pixel Tiny Bright Frozen Cosmic"
)
_NOUNS = _words(
    "Byte Circuit Comet Forge Garden Harbor Lantern Lattice Orbit Engine Rocket Signal "
    "Sprout Tide Vertex Canvas Beacon Compass Glacier Meadow"
)
_EVENT_KINDS = ("Hackathon", "Jam", "Sprint", "Hack Night", "Buildathon", "Game Jam")
_FLAGS = ("quality_checks", "ysws_verification", "leaderboard_v2", "judge_mode", "anonymous_voting")
_REFERRALS = (
    "A friend told me",
    "Instagram",
    "Our school's coding club",
    "Hack Club Slack",
    "A poster in the library",
    "My teacher",
    "TikTok",
    "I came last year",
    "Discord",
    "Newsletter",
)
_JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_BAD_DOBS = ("1990-13-45", "2001-02-30", "31/12/1999", "not telling", "0000-00-00", "19950704")
_BAD_FLAGS = (
    "quality checks",
    "beta flag,ysws_verification",
    "judge-mode",
    "leaderboard v2, anonymous voting",
)
_BAD_JSON = (
    '{"score": 0.7, "checks": {',
    "{'score': 0.5}",
    "NaN",
    '{"score": .9}',
    "<html>502</html>",
)
_FORMULA_ERRORS: tuple[dict[str, str], ...] = ({"error": "#ERROR!"}, {"specialValue": "NaN"})


def max_votes_per_user(project_count: int) -> int:
    """SPEC §2: 3 votes with at least 20 projects, 2 with at least 4, else 1."""
    return 3 if project_count >= 20 else 2 if project_count >= 4 else 1


EVENT_MESS = frozenset(
    {
        "event_missing_name",
        "invalid_feature_flag",
        "duplicate_event_slug",
        "duplicate_event_join_code",
    }
)


def default_mess_counts(total_records: int, event_count: int) -> dict[str, int]:
    """How many of each kind a base gets by default: 1 in 2,500 records, but 1 in 40 events for
    event mess (a large base has few, large events), and at least 2 of each."""
    per_record = max(2, total_records // 2_500)
    per_event = max(2, event_count // 40)
    return {kind: per_event if kind in EVENT_MESS else per_record for kind in MESS_KINDS}


@dataclass(frozen=True)
class MessManifest:
    """Which records carry which planted mess: kind → record ids (every kind is present)."""

    records: Mapping[str, list[str]]
    descriptions: Mapping[str, str] = field(default_factory=lambda: dict(MESS_KINDS))

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.records.items()}

    def kind_of(self, record_id: str) -> str | None:
        return next((kind for kind, ids in self.records.items() if record_id in ids), None)

    @property
    def total(self) -> int:
        return sum(len(ids) for ids in self.records.values())


@dataclass(frozen=True)
class GeneratedBase:
    tables: dict[str, list[AirtableRecord]]
    manifest: MessManifest
    seed: int

    @property
    def record_count(self) -> int:
        return sum(len(records) for records in self.tables.values())

    def table_of(self, record_id: str) -> str:
        for name, records in self.tables.items():
            if any(record["id"] == record_id for record in records):
                return name
        raise KeyError(record_id)


@dataclass
class _Record:
    id: str
    # Times are fixed at the end, when the number of events (and so their spacing) is known:
    # `anchor` is the index of the event the record belongs to, `offset` seconds from its start.
    anchor: int
    offset: float
    fields: dict[str, Any]

    def links(self, name: str) -> list[str]:
        value = self.fields.get(name)
        return value if isinstance(value, list) else []

    def one(self, name: str) -> str | None:
        links = self.links(name)
        return links[0] if links else None

    @property
    def order(self) -> tuple[int, float]:
        return (self.anchor, self.offset)


def _has_links(name: str) -> Callable[[_Record], bool]:
    return lambda record: bool(record.links(name))


class TooSmallForMess(ValueError):
    """The requested base is too small to plant the requested mess on distinct records."""


_DAY = 86_400.0
_HOUR = 3_600.0


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, dict[str, _Record]] = {name: {} for name in V1_LAYOUT}
        self.ids: set[str] = set()
        self.emails: set[str] = set()
        self.slugs: set[str] = set()
        self.join_codes: set[str] = set()
        self.event_names: set[str] = set()
        self.user_order: list[str] = []
        self.event_count = 0
        self.tainted: set[str] = set()
        self.manifest: dict[str, list[str]] = {kind: [] for kind in MESS_KINDS}

    # -- primitives ------------------------------------------------------------------------

    @property
    def total(self) -> int:
        return sum(len(records) for records in self.tables.values())

    def new_id(self) -> str:
        while True:
            number = self.rng.getrandbits(84)
            digits = []
            for _ in range(14):
                number, digit = divmod(number, 62)
                digits.append(ID_ALPHABET[digit])
            candidate = "rec" + "".join(digits)
            if candidate not in self.ids:
                self.ids.add(candidate)
                return candidate

    def add(self, table: str, anchor: int, offset: float, fields: dict[str, Any]) -> _Record:
        record = _Record(self.new_id(), anchor, round(offset, 3), fields)
        self.tables[table][record.id] = record
        return record

    def link(self, table: str, record: _Record, name: str, target_id: str) -> None:
        """Link both sides, as Airtable does."""
        spec = V1_LAYOUT[table].fields[name]
        assert isinstance(spec, Link)
        record.fields.setdefault(name, [])
        if target_id not in record.fields[name]:
            record.fields[name].append(target_id)
        target = self.tables[spec.table].get(target_id)
        if spec.inverse is not None and target is not None:
            back = target.fields.setdefault(spec.inverse, [])
            if record.id not in back:
                back.append(record.id)

    def unlink(self, table: str, record: _Record, name: str, target_id: str) -> None:
        spec = V1_LAYOUT[table].fields[name]
        assert isinstance(spec, Link)
        record.fields[name] = [linked for linked in record.links(name) if linked != target_id]
        target = self.tables[spec.table].get(target_id)
        if spec.inverse is not None and target is not None:
            target.fields[spec.inverse] = [
                linked for linked in target.links(spec.inverse) if linked != record.id
            ]

    def code(self) -> str:
        while True:
            candidate = "".join(self.rng.choice(_JOIN_CODE_ALPHABET) for _ in range(6))
            if candidate not in self.join_codes:
                self.join_codes.add(candidate)
                return candidate

    # -- the clean world -------------------------------------------------------------------

    def new_user(self, anchor: int, offset: float) -> _Record:
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        handle = f"{first}.{last}".lower()
        email = f"{handle}@{rng.choice(_DOMAINS)}"
        number = 1
        while email in self.emails:
            number += 1
            email = f"{handle}{number}@{email.split('@')[1]}"
        self.emails.add(email)
        fields: dict[str, Any] = {
            "email": email,
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last[0]}.",
        }
        if rng.random() < 0.5:
            fields["phone"] = f"+1 555-{rng.randrange(100, 1000)}-{rng.randrange(1000, 10000)}"
        if rng.random() < 0.4:
            city, state, country = rng.choice(_CITIES)
            fields.update(
                street_1=f"{rng.randrange(1, 999)} {rng.choice(_NOUNS)} Street",
                city=city,
                state=state,
                zip_code=f"{rng.randrange(10000, 99999)}",
                country=country,
            )
            if rng.random() < 0.25:
                fields["street_2"] = f"Apt {rng.randrange(1, 40)}"
        if rng.random() < 0.6:
            born = datetime(1965, 1, 1) + timedelta(days=rng.randrange(0, 46 * 365))
            fields["dob"] = born.strftime("%Y-%m-%d")
        user = self.add("users", anchor, offset, fields)
        self.user_order.append(user.id)
        return user

    def pick_user(self, anchor: int, offset: float, exclude: set[str], reuse: float) -> _Record:
        """A returning user (with probability `reuse`) not in `exclude`, else a new sign-up."""
        if self.user_order and self.rng.random() < reuse:
            for _ in range(5):
                candidate = self.tables["users"][self.rng.choice(self.user_order)]
                if candidate.id not in exclude:
                    return candidate
        return self.new_user(anchor, offset)

    def event_name(self) -> str:
        rng = self.rng
        base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_EVENT_KINDS)}"
        name, number = base, 1
        while name in self.event_names:
            number += 1
            name = f"{base} {number}"
        self.event_names.add(name)
        return name

    def slug(self, name: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:44]
        slug, number = base, 1
        while slug in self.slugs:
            number += 1
            slug = f"{base}-{number}"
        self.slugs.add(slug)
        return slug

    def build_event(self, project_count: int, record_limit: int) -> None:
        """An event with its people, projects, votes and referrals, in `record_limit` records."""
        rng, k = self.rng, self.event_count
        self.event_count += 1
        stop_at = self.total + record_limit
        owner = self.pick_user(k, -21 * _DAY - rng.uniform(1, 100) * _DAY, set(), reuse=0.3)
        name = self.event_name()
        fields: dict[str, Any] = {
            "name": name,
            "slug": self.slug(name),
            "join_code": self.code(),
            "description": f"{name}: {rng.choice(('build', 'ship', 'hack on'))} something "
            f"{rng.choice(('wild', 'useful', 'tiny'))} in {rng.choice((24, 36, 48))} hours.",
            "votable": rng.random() < 0.7,
            "leaderboard_enabled": rng.random() < 0.5,
            "demo_links_optional": rng.random() < 0.3,
            "ysws_checks_enabled": rng.random() < 0.2,
        }
        if rng.random() < 0.3:
            fields["feature_flags_csv"] = ",".join(rng.sample(_FLAGS, rng.randint(1, 3)))
        event = self.add("events", k, -21 * _DAY, fields)
        self.link("events", event, "owner", owner.id)
        attending: set[str] = set()
        joined: list[tuple[_Record, float]] = []

        def attend(user: _Record) -> None:
            attending.add(user.id)
            self.link("events", event, "attendees", user.id)
            # A new sign-up joins right after signing up; a returning user any time after the
            # announcement.
            signed_up = user.offset if user.anchor == k else -rng.uniform(0, 20) * _DAY
            # Never before the event exists (its owner may have signed up long before).
            joined.append((user, max(signed_up, event.offset) + rng.uniform(60, _HOUR)))

        if rng.random() < 0.4:
            attend(owner)
        teams: list[list[_Record]] = []
        for _ in range(project_count):
            size = 1 + rng.choices((0, 1, 2, 3), weights=(35, 30, 20, 15))[0]
            team = []
            for _ in range(size):
                member = self.pick_user(
                    k, -rng.uniform(0, 20) * _DAY, attending | {owner.id}, reuse=0.3
                )
                attend(member)
                team.append(member)
            teams.append(team)
        for _ in range(round(project_count * 0.3)):
            attend(self.pick_user(k, -rng.uniform(0, 20) * _DAY, attending | {owner.id}, reuse=0.3))

        projects = [
            self.build_project(k, event, team, fields["demo_links_optional"]) for team in teams
        ]
        # Referrals and votes come last: they are what gets cut when the record budget runs out.
        for user, joined_at in joined:
            if rng.random() < 0.3 and self.total < stop_at:
                referral = self.add("referrals", k, joined_at, {"content": rng.choice(_REFERRALS)})
                self.link("referrals", referral, "user", user.id)
                self.link("referrals", referral, "event", event.id)
        allowance = max_votes_per_user(len(projects))
        team_members = {
            project.id: {*project.links("owner"), *project.links("collaborators")}
            for project in projects
        }
        teams_of: dict[str, int] = {}
        for members in team_members.values():
            for member_id in members:
                teams_of[member_id] = teams_of.get(member_id, 0) + 1
        for voter_id in sorted(
            attending, key=lambda user_id: (self.tables["users"][user_id].order, user_id)
        ):
            if rng.random() >= 0.75:
                continue
            wanted = allowance if rng.random() < 0.6 else rng.randint(1, allowance)
            # Draw a few spare projects so the voter's own ones (usually one) can be skipped.
            own = teams_of.get(voter_id, 0)
            drawn = rng.sample(projects, min(wanted + own, len(projects)))
            eligible = [project for project in drawn if voter_id not in team_members[project.id]]
            for project in eligible[:wanted]:
                if self.total >= stop_at:
                    return
                vote = self.add("votes", k, 40 * _HOUR + rng.uniform(0, 8 * _HOUR), {})
                self.link("votes", vote, "voter", voter_id)
                self.link("votes", vote, "project", project.id)
                self.link("votes", vote, "event", event.id)

    def build_project(
        self, k: int, event: _Record, team: list[_Record], demo_optional: bool
    ) -> _Record:
        rng = self.rng
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
        handle = team[0].fields["email"].split("@")[0].replace(".", "")
        fields: dict[str, Any] = {
            "name": name,
            "repo": f"https://github.com/{handle}/{slug}",
            "join_code": self.code(),
        }
        if not demo_optional or rng.random() < 0.5:
            fields["demo"] = f"https://{slug}-{rng.randrange(1000)}.example.app"
        if rng.random() < 0.6:
            fields["image_url"] = f"https://cdn.example.com/shots/{slug}-{rng.randrange(10**6)}.png"
        if rng.random() < 0.8:
            fields["description"] = (
                f"{name} {rng.choice(('helps', 'lets', 'teaches'))} people "
                + rng.choice(
                    (
                        "find study buddies.",
                        "water their plants.",
                        "learn chords.",
                        "track the bus.",
                        "sort recycling.",
                    )
                )
            )
        if rng.random() < 0.85:
            fields["hours_spent"] = rng.randint(0, 60)
        if rng.random() < 0.25:
            fields["cached_auto_quality"] = json.dumps(
                {
                    "score": round(rng.random(), 2),
                    "checks": {"readme": rng.random() < 0.8, "demo_works": rng.random() < 0.7},
                }
            )
        project = self.add("projects", k, rng.uniform(0, 36 * _HOUR), fields)
        self.link("projects", project, "event", event.id)
        self.link("projects", project, "owner", team[0].id)
        for collaborator in team[1:]:
            self.link("projects", project, "collaborators", collaborator.id)
        return project

    def derive(self) -> None:
        """Points from votes, then every lookup from the links as they now are."""
        for project in self.tables["projects"].values():
            count = len(project.links("votes"))
            project.fields["points"] = count if count or self.rng.random() < 0.5 else None
        for table_name, records in self.tables.items():
            layout = V1_LAYOUT[table_name]
            for record in records.values():
                for name, spec in layout.fields.items():
                    if isinstance(spec, Lookup):
                        via = layout.fields[spec.via]
                        assert isinstance(via, Link)
                        targets = self.tables[via.table]

                        def linked(
                            record_id: str, targets: dict[str, _Record] = targets
                        ) -> dict[str, Any] | None:
                            target = targets.get(record_id)
                            return None if target is None else target.fields

                        record.fields[name] = lookup_value(spec, record.fields, linked)

    # -- mess ------------------------------------------------------------------------------

    def candidates(
        self, table: str, accept: Callable[[_Record], bool] = lambda record: True
    ) -> Iterable[_Record]:
        """Untainted records of `table` that `accept` takes, in a seeded random order."""
        records = list(self.tables[table].values())
        # Lazily: a planter usually takes one of the first few, so shuffling all is wasted work.
        for end in range(len(records) - 1, -1, -1):
            pick = self.rng.randint(0, end)
            records[pick], records[end] = records[end], records[pick]
            record = records[end]
            if record.id not in self.tainted and accept(record):
                yield record

    def plant(self, kind: str, count: int, attempt: Callable[[], Iterable[_Record | None]]) -> None:
        """Run `attempt`'s planting steps until `count` records carry `kind`."""
        if count == 0:
            return
        planted = misses = 0
        for record in attempt():
            if record is None:
                misses += 1
                if misses > 100:  # the cycling planters never stop on their own
                    break
                continue
            self.tainted.add(record.id)
            self.manifest[kind].append(record.id)
            planted, misses = planted + 1, 0
            if planted == count:
                return
        raise TooSmallForMess(
            f"could plant only {planted} of {count} {kind!r}; generate a larger base"
        )

    def votes_in_event(self, user_id: str, event_id: str) -> int:
        user = self.tables["users"].get(user_id)
        if user is None:
            return 0
        return sum(
            1
            for vote_id in user.links("votes")
            if self.tables["votes"][vote_id].one("event") == event_id
        )

    def has_spare_vote(self, user_id: str, event_id: str) -> bool:
        event = self.tables["events"][event_id]
        return self.votes_in_event(user_id, event_id) < max_votes_per_user(
            len(event.links("projects"))
        )

    def is_leaf_user(self, user: _Record) -> bool:
        return not any(
            user.links(name)
            for name in ("votes", "projects", "collaborations", "owned_events", "referral")
        )

    def plant_all(self, counts: Mapping[str, int]) -> None:
        rng = self.rng
        users, events, projects, votes = (
            self.tables[name] for name in ("users", "events", "projects", "votes")
        )

        def email_twins() -> Iterable[_Record | None]:
            variants = (
                str.upper,
                lambda email: f"  {email} ",
                lambda email: email.title(),
                lambda email: f" {email.capitalize()}",
            )
            for number, original in enumerate(
                self.candidates("users", lambda user: "email" in user.fields)
            ):
                other_events = [
                    event
                    for event in events.values()
                    if original.id not in event.links("attendees")
                ]
                if not other_events:
                    continue
                self.tainted.add(original.id)
                email = variants[number % len(variants)](original.fields["email"])
                twin_fields = {
                    name: original.fields[name]
                    for name in ("first_name", "last_name", "display_name")
                }
                twin = self.add(
                    "users",
                    original.anchor,
                    original.offset + rng.uniform(_HOUR, 10 * _DAY),
                    {"email": email, **twin_fields},
                )
                self.link("events", rng.choice(other_events), "attendees", twin.id)
                yield twin

        def drop(
            table: str, name: str, accept: Callable[[_Record], bool]
        ) -> Iterable[_Record | None]:
            for record in self.candidates(table, accept):
                record.fields.pop(name, None)
                yield record

        def duplicate_slug_or_code(name: str) -> Iterable[_Record | None]:
            pool = list(self.candidates("events"))
            for number, pair in enumerate(zip(pool[::2], pool[1::2], strict=False)):
                original, copy_ = sorted(pair, key=lambda event: (event.order, event.id))
                self.tainted.add(original.id)
                value = original.fields[name]
                # Join codes are case-insensitive: every other copy differs only in case.
                copy_.fields[name] = value.lower() if name == "join_code" and number % 2 else value
                yield copy_

        def vote_links_ok(vote: _Record) -> bool:
            return all(
                vote.one(name) in self.tables[table]
                for name, table in (
                    ("voter", "users"),
                    ("project", "projects"),
                    ("event", "events"),
                )
            )

        def missing_link() -> Iterable[_Record | None]:
            for number, vote in enumerate(self.candidates("votes", vote_links_ok)):
                name = ("project", "voter", "event")[number % 3]
                self.unlink("votes", vote, name, vote.links(name)[0])
                yield vote

        def duplicate_votes() -> Iterable[_Record | None]:
            for vote in self.candidates("votes", vote_links_ok):
                voter, project, event = vote.one("voter"), vote.one("project"), vote.one("event")
                assert voter and project and event
                if not self.has_spare_vote(voter, event):
                    continue
                self.tainted.add(vote.id)
                copy_ = self.add("votes", vote.anchor, vote.offset + rng.uniform(1, 600), {})
                for name, target in (("voter", voter), ("project", project), ("event", event)):
                    self.link("votes", copy_, name, target)
                yield copy_

        def own_team(project: _Record) -> list[str]:
            return project.links("owner") + project.links("collaborators")

        def cross_event() -> Iterable[_Record | None]:
            for vote in self.candidates("votes", vote_links_ok):
                voter, project = users[str(vote.one("voter"))], projects[str(vote.one("project"))]
                other = next(
                    (
                        other
                        for other in self.candidates("projects")
                        if other.anchor < vote.anchor
                        and other.one("event") != vote.one("event")
                        and voter.id not in own_team(other)
                        and not any(votes[v].one("voter") == voter.id for v in other.links("votes"))
                    ),
                    None,
                )
                if other is not None:
                    self.unlink("votes", vote, "project", project.id)
                    self.link("votes", vote, "project", other.id)
                    yield vote

        def non_attendee() -> Iterable[_Record | None]:
            for vote in self.candidates("votes", vote_links_ok):
                event, project = events[str(vote.one("event"))], projects[str(vote.one("project"))]
                voters = {votes[v].one("voter") for v in project.links("votes")}
                outsider = next(
                    (
                        user
                        for user in self.candidates("users")
                        if user.anchor <= vote.anchor
                        and user.id not in event.links("attendees")
                        and user.id not in own_team(project)
                        and user.id not in voters
                        and self.votes_in_event(user.id, event.id) == 0
                    ),
                    None,
                )
                if outsider is not None:
                    self.unlink("votes", vote, "voter", str(vote.one("voter")))
                    self.link("votes", vote, "voter", outsider.id)
                    yield vote

        def own_project() -> Iterable[_Record | None]:
            for number, vote in enumerate(self.candidates("votes", vote_links_ok)):
                project = projects[str(vote.one("project"))]
                team = own_team(project)
                member = team[number % len(team)]
                voters = {votes[v].one("voter") for v in project.links("votes")}
                if (
                    member in self.tainted
                    or member in voters
                    or not self.has_spare_vote(member, str(vote.one("event")))
                ):
                    continue
                self.unlink("votes", vote, "voter", str(vote.one("voter")))
                self.link("votes", vote, "voter", member)
                yield vote

        def ghost() -> str:
            return self.new_id()  # reserved in self.ids, so no record will ever get it

        def dangling() -> Iterable[_Record | None]:
            variants = (
                ("votes", "project", True),
                ("votes", "voter", True),
                ("events", "attendees", False),
                ("projects", "collaborators", False),
                ("referrals", "user", True),
                ("projects", "owner", True),
            )
            number = 0
            while True:
                table, name, replace = variants[number % len(variants)]
                number += 1
                if replace:
                    pool = self.candidates(table, _has_links(name))
                else:
                    pool = self.candidates(table)
                record = next(iter(pool), None)
                if record is None:
                    yield None
                    continue
                if replace:
                    self.unlink(table, record, name, record.links(name)[0])
                record.fields[name] = [*record.links(name), ghost()]
                yield record

        def sparse() -> Iterable[_Record | None]:
            number = 0
            while True:
                table, optional = (
                    ("users", USER_OPTIONAL),
                    ("events", EVENT_OPTIONAL),
                    ("projects", PROJECT_OPTIONAL),
                )[number % 3]
                number += 1
                record = next(
                    iter(
                        self.candidates(
                            table, lambda record: not record.fields.get("demo_links_optional")
                        )
                    ),
                    None,
                )
                if record is not None:
                    for name in optional:
                        record.fields.pop(name, None)
                yield record

        def set_value(
            table: str, name: str, values: tuple[Any, ...], accept: Callable[[_Record], bool]
        ) -> Iterable[_Record | None]:
            for number, record in enumerate(self.candidates(table, accept)):
                record.fields[name] = values[number % len(values)]
                yield record

        structural: list[tuple[str, Callable[[], Iterable[_Record | None]]]] = [
            ("email_case_duplicate", email_twins),
            ("duplicate_event_slug", lambda: duplicate_slug_or_code("slug")),
            ("duplicate_event_join_code", lambda: duplicate_slug_or_code("join_code")),
            ("user_missing_email", lambda: drop("users", "email", self.is_leaf_user)),
            ("user_missing_first_name", lambda: drop("users", "first_name", self.is_leaf_user)),
            ("event_missing_name", lambda: drop("events", "name", lambda event: True)),
            ("project_missing_name", lambda: drop("projects", "name", lambda project: True)),
            ("vote_missing_link", missing_link),
            ("duplicate_vote", duplicate_votes),
            ("vote_cross_event", cross_event),
            ("vote_by_non_attendee", non_attendee),
            ("vote_for_own_project", own_project),
            ("dangling_link", dangling),
            ("sparse_record", sparse),
            ("invalid_dob", lambda: set_value("users", "dob", _BAD_DOBS, lambda user: True)),
            (
                "negative_hours_spent",
                lambda: set_value("projects", "hours_spent", (-1, -12, -3, -40), lambda p: True),
            ),
            (
                "invalid_feature_flag",
                lambda: set_value("events", "feature_flags_csv", _BAD_FLAGS, lambda e: True),
            ),
            (
                "invalid_quality_json",
                lambda: set_value("projects", "cached_auto_quality", _BAD_JSON, lambda p: True),
            ),
        ]
        for kind, attempt in structural:
            self.plant(kind, counts.get(kind, 0), attempt)
        self.derive()

        def points_off() -> Iterable[_Record | None]:
            for number, project in enumerate(self.candidates("projects")):
                count = len(project.links("votes"))
                if number % 3 == 2 and count:
                    project.fields["points"] = None  # never updated
                else:
                    project.fields["points"] = (
                        count + rng.randint(1, 5) if number % 3 == 0 or not count else count - 1
                    )
                yield project

        def formula_errors() -> Iterable[_Record | None]:
            targets = (
                ("projects", "owner_display_name"),
                ("votes", "project_id"),
                ("events", "owner_id"),
                ("referrals", "event_id"),
                ("projects", "event_id"),
            )
            number = 0
            while True:
                table, name = targets[number % len(targets)]
                record = next(iter(self.candidates(table)), None)
                if record is not None:
                    record.fields[name] = dict(_FORMULA_ERRORS[number % len(_FORMULA_ERRORS)])
                number += 1
                yield record

        self.plant("points_mismatch", counts.get("points_mismatch", 0), points_off)
        self.plant("formula_error", counts.get("formula_error", 0), formula_errors)

    # -- output ----------------------------------------------------------------------------

    def emit(self) -> dict[str, list[AirtableRecord]]:
        spacing = (TIMELINE_END - TIMELINE_START) / max(self.event_count, 1)
        tables: dict[str, list[AirtableRecord]] = {}
        for name, records in self.tables.items():
            order = list(V1_LAYOUT[name].fields)
            rendered = []
            for record in records.values():
                created = (
                    TIMELINE_START + spacing * record.anchor + timedelta(seconds=record.offset)
                )
                fields = {
                    field_name: record.fields[field_name]
                    for field_name in order
                    if field_name in record.fields and not is_empty(record.fields[field_name])
                }
                rendered.append((created, record.id, fields))
            rendered.sort(key=lambda item: (item[0], item[1]))
            tables[name] = [
                {"id": rid, "createdTime": format_time(created), "fields": fields}
                for created, rid, fields in rendered
            ]
        return tables


def generate_base(
    total_records: int, *, seed: int = 0, mess: bool | Mapping[str, int] = True
) -> GeneratedBase:
    """A v1 base of exactly `total_records` records (default mess needs about 1,000 or more).

    `mess`: True plants `default_mess_counts`; False none; a mapping plants exactly those counts
    (kinds left out: none).
    Raises TooSmallForMess when the base cannot hold the requested mess on distinct records.
    """
    if total_records < 60:
        raise ValueError("a v1 base needs at least 60 records (one event of 5 projects)")
    if isinstance(mess, Mapping):
        unknown = set(mess) - set(MESS_KINDS)
        if unknown:
            raise ValueError(f"unknown mess kinds: {sorted(unknown)}")
        counts = {kind: count for kind, count in mess.items() if count}
    else:
        # Event counts are settled once the events exist; the rest depend on the size alone.
        counts = default_mess_counts(total_records, 0) if mess else {}
    builder = _Builder(seed)
    # Mess that adds records (twins, duplicate votes) needs room; sign-ups fill what is left.
    budget = total_records - counts.get("email_case_duplicate", 0) - counts.get("duplicate_vote", 0)
    # About 4 % of a real base are sign-ups who never joined an event: kept for the end.
    lone_signups = total_records // 25
    largest = max(5, min(300, total_records // 150))
    while True:
        remaining = budget - lone_signups - builder.total
        # Users, event and projects of an event with p projects are at most ~5.3 p + 3 records
        # (teams of ≤4, 30 % extra attendees, a new owner); votes and referrals stop at the limit.
        affordable = int((remaining - 3) / 5.3)
        if affordable < 5:
            break
        wanted = round(5 * (largest / 5) ** builder.rng.random())
        builder.build_event(min(wanted, affordable), remaining)
    if builder.event_count == 0:
        raise TooSmallForMess("no room for a single event")
    if mess is True:
        counts = default_mess_counts(total_records, builder.event_count)
    # Sign-ups that never joined fill the budget before the mess is planted, so a small base
    # has users without activity to plant user mess on.
    while builder.total < budget:
        builder.new_user(
            builder.rng.randrange(builder.event_count), -builder.rng.uniform(0, 30) * _DAY
        )
    if counts:
        builder.plant_all(counts)
    else:
        builder.derive()
    assert builder.total == total_records, "the records that mess adds were budgeted"
    manifest = MessManifest(records={kind: sorted(ids) for kind, ids in builder.manifest.items()})
    return GeneratedBase(tables=builder.emit(), manifest=manifest, seed=seed)


__all__ = [
    "EVENT_MESS",
    "MESS_KINDS",
    "GeneratedBase",
    "MessManifest",
    "TooSmallForMess",
    "default_mess_counts",
    "generate_base",
    "max_votes_per_user",
]
