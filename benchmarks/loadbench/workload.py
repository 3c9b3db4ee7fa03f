"""The requests of the load: each route of interest, and the three v1 personas that mix them.

Personas (v1's Locust test): attendees (70%) browse, submit projects and vote in a burst near the
end; lurkers (25%) browse; organisers (5%) poll the leaderboard, hard during voting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from functools import cache

import orjson

from loadbench.http import HttpPool, HttpResponse
from loadbench.loadgen import Request
from loadbench.seed import SeededEvent
from podium.ids import Entity
from podium.public_ids import public_id
from podium.security import TokenType, create_token


# A list's label says how many projects it returns: the event's own count (so [5000] for the
# scale plan's big event). The constants below are the default plan's labels.
def floor_label(projects: int) -> str:
    return f"GET /__bench/floor/leaderboard [{projects}]"


def projects_label(projects: int) -> str:
    return f"GET /events/{{id}}/projects [{projects}]"


def leaderboard_label(projects: int) -> str:
    return f"GET /events/{{id}}/projects?leaderboard=true [{projects}]"


def admin_leaderboard_label(projects: int) -> str:
    return f"GET /events/admin/{{id}}/leaderboard [{projects}]"


CONSTANT = "GET /__bench/constant"
FLOOR = floor_label(1000)
FLOOR_200 = floor_label(200)
FLOOR_EVENT = "GET /__bench/floor/event"
EVENT_PAGE = "GET /events/{id}"
PROJECTS_200 = projects_label(200)
PROJECTS_1000 = projects_label(1000)
LEADERBOARD_200 = leaderboard_label(200)
LEADERBOARD_1000 = leaderboard_label(1000)
ADMIN_LEADERBOARD = "GET /events/admin/{id}/leaderboard"
ADMIN_LEADERBOARD_1000 = admin_leaderboard_label(1000)
# Issue #12's variants of the lists: what a browser sends. Compression: the encodings every
# current browser accepts (the server picks zstd, then br, then gzip). Revalidation: the
# current ETag in If-None-Match, answered 304 with no body.
BROWSER_ENCODINGS = "gzip, br, zstd"
COMPRESSED = " gzip,br,zstd"
REVALIDATED = " 304"
PROJECTS_200_COMPRESSED = PROJECTS_200 + COMPRESSED
PROJECTS_1000_COMPRESSED = PROJECTS_1000 + COMPRESSED
LEADERBOARD_1000_304 = LEADERBOARD_1000 + REVALIDATED
ADMIN_LEADERBOARD_1000_304 = ADMIN_LEADERBOARD_1000 + REVALIDATED
ADMIN_EVENT = "GET /events/admin/{id}"
USERS_CURRENT = "GET /users/current"
PROJECT_PAGE = "GET /projects/{id}"
MY_EVENTS = "GET /events/"
MY_PROJECTS = "GET /projects/mine"
CREATE_PROJECT = "POST /projects/"
VOTE = "POST /events/vote"
# A voter racing themselves: one request per vote plus one too many, all at once.
VOTE_RACING = "POST /events/vote (racing, +1 too many)"

# Per persona: (weight of the persona, [(weight of the action, action name), ...]).
PERSONAS: dict[str, tuple[int, list[tuple[int, str]]]] = {
    "attendee": (
        70,
        [
            (25, "event"),
            (25, "projects"),
            (15, "project"),
            (15, "me"),
            (10, "my_events"),
            (5, "my_projects"),
            (5, "create_project"),
        ],
    ),
    "lurker": (25, [(40, "event"), (30, "project"), (30, "projects")]),
    "organiser": (5, [(60, "leaderboard"), (20, "admin_leaderboard"), (20, "admin_event")]),
}


def _conditional_headers(
    encoding: str | None, etag: str | None
) -> tuple[dict[str, str], frozenset[int]]:
    extra: dict[str, str] = {}
    if encoding is not None:
        extra["Accept-Encoding"] = encoding
    if etag is not None:
        extra["If-None-Match"] = etag
    return extra, frozenset({304}) if etag is not None else frozenset({200})


def _suffix(encoding: str | None, etag: str | None) -> str:
    """What a list's label gains for its Accept-Encoding and If-None-Match."""
    suffix = ""
    if encoding is not None:
        suffix += COMPRESSED if encoding == BROWSER_ENCODINGS else f" {encoding}"
    if etag is not None:
        suffix += REVALIDATED
    return suffix


class Workload:
    """Builds requests for the seeded data, with access tokens minted for the server's secret."""

    def __init__(
        self,
        pool: HttpPool,
        big: SeededEvent,
        small: list[SeededEvent],
        jwt_secret: str,
        medium: list[SeededEvent] | None = None,
    ) -> None:
        self.pool = pool
        self.big, self.small = big, small
        self.medium = list(medium or [])
        self.events = [big, *self.medium, *small]
        self.jwt_secret = jwt_secret
        self._token = cache(self._mint)
        self._created = 0

    def _mint(self, email: str) -> str:
        return create_token(email, TokenType.ACCESS, self.jwt_secret, timedelta(days=1))

    def auth(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token(email)}"}

    def _get(
        self,
        label: str,
        path: str,
        email: str | None = None,
        extra: dict[str, str] | None = None,
        expect: frozenset[int] = frozenset({200}),
    ) -> Request:
        headers = self.auth(email) if email else {}
        if extra:
            headers.update(extra)
        return Request(label, self.pool.build("GET", path, headers), expect)

    @staticmethod
    def event_id(event: SeededEvent) -> str:
        return public_id(Entity.EVENT, event.seq)

    # Single routes -------------------------------------------------------------------------

    def constant(self) -> Request:
        return self._get(CONSTANT, "/__bench/constant")

    def floor(self, event: SeededEvent | None = None) -> Request:
        event = event or self.big
        label = floor_label(len(event.project_seqs))
        return self._get(label, f"/__bench/floor/leaderboard/{event.seq}")

    def floor_event(self, event: SeededEvent) -> Request:
        return self._get(FLOOR_EVENT, f"/__bench/floor/event/{event.seq}")

    def event_page(self, event: SeededEvent) -> Request:
        return self._get(EVENT_PAGE, f"/events/{self.event_id(event)}")

    def projects(
        self,
        event: SeededEvent,
        email: str | None,
        *,
        ranked: bool = False,
        encoding: str | None = None,
        etag: str | None = None,
    ) -> Request:
        """The event's project list (ranked: its leaderboard); `encoding` goes in
        Accept-Encoding, `etag` in If-None-Match (a 304 is then expected), each labelled so."""
        assert event.project_seqs
        size = len(event.project_seqs)
        label = leaderboard_label(size) if ranked else projects_label(size)
        extra, expect = _conditional_headers(encoding, etag)
        label += _suffix(encoding, etag)
        return self._get(label, self.projects_path(event, ranked=ranked), email, extra, expect)

    def projects_path(self, event: SeededEvent, *, ranked: bool = False) -> str:
        query = "?leaderboard=true" if ranked else ""
        return f"/events/{self.event_id(event)}/projects{query}"

    def admin_leaderboard(
        self, event: SeededEvent, *, encoding: str | None = None, etag: str | None = None
    ) -> Request:
        """The owner's leaderboard of one event, labelled by size like the public lists."""
        label = admin_leaderboard_label(len(event.project_seqs))
        extra, expect = _conditional_headers(encoding, etag)
        label += _suffix(encoding, etag)
        path = self.admin_leaderboard_path(event)
        return self._get(label, path, event.owner_email, extra, expect)

    def admin_leaderboard_path(self, event: SeededEvent) -> str:
        return f"/events/admin/{self.event_id(event)}/leaderboard"

    def admin_event(self, event: SeededEvent) -> Request:
        return self._get(ADMIN_EVENT, f"/events/admin/{self.event_id(event)}", event.owner_email)

    def users_current(self, email: str) -> Request:
        return self._get(USERS_CURRENT, "/users/current", email)

    def project_page(self, project_seq: int) -> Request:
        return self._get(PROJECT_PAGE, f"/projects/{public_id(Entity.PROJECT, project_seq)}")

    def my_events(self, email: str) -> Request:
        return self._get(MY_EVENTS, "/events/", email)

    def my_projects(self, email: str) -> Request:
        return self._get(MY_PROJECTS, "/projects/mine", email)

    def create_project(self, event: SeededEvent, email: str) -> Request:
        self._created += 1
        body = orjson.dumps(
            {
                "event": self.event_id(event),
                "name": f"Load project {self._created}",
                "repo": f"https://github.com/bench/load-{self._created}",
                "image_url": f"https://img.bench.podium.dev/load-{self._created}.png",
                "demo": f"https://demo.bench.podium.dev/load-{self._created}",
                "description": "Made while the load benchmark ran. " * 4,
                "hours_spent": 12,
            }
        )
        headers = {**self.auth(email), "Content-Type": "application/json"}
        data = self.pool.build("POST", "/projects/", headers, body)
        return Request(CREATE_PROJECT, data, expect=frozenset({201}))

    def vote(
        self,
        event: SeededEvent,
        email: str,
        project_seqs: list[int],
        *,
        label: str = VOTE,
        expect: frozenset[int] = frozenset({201}),
        on_response: Callable[[HttpResponse], None] | None = None,
    ) -> Request:
        body = orjson.dumps(
            {
                "event": self.event_id(event),
                "projects": [public_id(Entity.PROJECT, seq) for seq in project_seqs],
            }
        )
        headers = {**self.auth(email), "Content-Type": "application/json"}
        data = self.pool.build("POST", "/events/vote", headers, body)
        return Request(label, data, expect=expect, on_response=on_response)

    def mix_admin_leaderboard(self, event: SeededEvent) -> Request:
        """The persona mix's admin leaderboard: one label for every event's (as before #12)."""
        return self._get(ADMIN_LEADERBOARD, self.admin_leaderboard_path(event), event.owner_email)

    # Personas --------------------------------------------------------------------------------

    def persona_request(self, rng: random.Random) -> Request:
        """One request of the persona mix: a persona, then one of its actions."""
        names = list(PERSONAS)
        persona = rng.choices(names, [PERSONAS[name][0] for name in names])[0]
        actions = PERSONAS[persona][1]
        action = rng.choices([name for _, name in actions], [w for w, _ in actions])[0]
        # An attendance, uniformly: big events get their share of the traffic.
        event = rng.choices(self.events, [len(e.attendee_emails) for e in self.events])[0]
        email = rng.choice(event.attendee_emails)
        if action == "event":
            return self.event_page(event)
        if action == "projects":
            return self.projects(event, email)
        if action == "project":
            return self.project_page(rng.choice(event.project_seqs))
        if action == "me":
            return self.users_current(email)
        if action == "my_events":
            return self.my_events(email)
        if action == "my_projects":
            return self.my_projects(email)
        if action == "create_project":
            return self.create_project(event, email)
        if action == "leaderboard":
            return self.projects(event, event.owner_email, ranked=True)
        if action == "admin_leaderboard":
            return self.mix_admin_leaderboard(event)
        if action == "admin_event":
            return self.admin_event(event)
        raise ValueError(action)

    def persona_cost_weights(self) -> dict[str, float]:
        """Expected share of each route label in the persona mix (for capacity estimates)."""
        rng = random.Random(7)
        counts: dict[str, int] = {}
        draws = 20_000
        for _ in range(draws):
            label = self.persona_request(rng).label
            counts[label] = counts.get(label, 0) + 1
        return {label: count / draws for label, count in counts.items()}
