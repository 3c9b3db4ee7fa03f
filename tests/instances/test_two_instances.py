"""Two instances behind a real load balancer: the rules that live in the database hold across
them. Every request goes through HAProxy (round robin); each test shows that both instances
answered, by the header HAProxy adds and by its own per-server counts.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx
import pytest

from podium.config import Settings
from podium.ids import Entity
from podium.public_ids import public_id
from podium.security import TokenType, create_token
from podium_devtools.haproxy import INSTANCE_HEADER
from tests.conftest import TEST_JWT_SECRET
from tests.instances.conftest import INSTANCES, Instances

pytestmark = pytest.mark.instances

CONNECTIONS = 64
VOTERS = 80
LOGIN_REQUESTS = 20
FAILOVER_CLIENTS = 8
CLIENT_TIMEOUT_SECONDS = 60
LOGIN_LIMIT = Settings.model_fields["login_mails_per_window"].default


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None
    instance: str
    body: dict[str, object]


async def ask(http: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> Answer:
    response = await http.request(method, path, **kwargs)  # type: ignore[arg-type]
    body = response.json() if response.headers.get("content-type") == "application/json" else {}
    code = body.get("error", {}).get("code") if response.status_code >= 400 else None
    return Answer(response.status_code, code, response.headers[INSTANCE_HEADER], body)


def balanced_client(stack: Instances) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    return httpx.AsyncClient(
        base_url=stack.balancer.url, limits=limits, timeout=CLIENT_TIMEOUT_SECONDS
    )


def assert_both_instances_answered(
    stack: Instances, before: dict[str, int], answers: list[Answer]
) -> None:
    """Both answered, and HAProxy's own counts agree with the header on every answer."""
    by_header = Counter(answer.instance for answer in answers)
    after = stack.balancer.responses()
    by_haproxy = {name: after[name] - before[name] for name in INSTANCES}
    print(f"\nanswers per instance: {dict(by_header)}")
    assert set(by_header) == set(INSTANCES), by_header
    assert by_haproxy == dict(by_header)


async def test_voting_rules_hold_across_instances(instances: Instances) -> None:
    stack, event = instances, instances.event
    voters = event.non_voters[:VOTERS]
    assert len(voters) == VOTERS
    ballots: list[tuple[str, int]] = []
    for email in voters:
        own = event.own_projects.get(email, set())
        choices = [seq for seq in event.project_seqs if seq not in own][: stack.vote_limit + 1]
        # One project past the limit, and the first two asked for twice.
        ballots += [(email, seq) for seq in [*choices, *choices[:2]]]
    random.Random(14).shuffle(ballots)
    tokens = {
        email: create_token(email, TokenType.ACCESS, TEST_JWT_SECRET, timedelta(hours=1))
        for email in voters
    }
    event_id = public_id(Entity.EVENT, event.seq)

    before = stack.balancer.responses()
    async with balanced_client(stack) as http:
        answers = await asyncio.gather(
            *(
                ask(
                    http,
                    "POST",
                    "/events/vote",
                    json={"event": event_id, "projects": [public_id(Entity.PROJECT, seq)]},
                    headers={"Authorization": f"Bearer {tokens[email]}"},
                )
                for email, seq in ballots
            )
        )
    assert_both_instances_answered(stack, before, answers)

    outcomes = Counter((answer.status, answer.code) for answer in answers)
    print(f"vote answers: {dict(outcomes)}")
    assert set(outcomes) <= {(201, None), (400, "vote_limit_exceeded"), (409, "already_voted")}
    # Each voter's requests raced on both instances at once.
    instances_of: dict[str, set[str]] = {}
    for (email, _), answer in zip(ballots, answers, strict=True):
        instances_of.setdefault(email, set()).add(answer.instance)
    assert sum(len(seen) == len(INSTANCES) for seen in instances_of.values()) > VOTERS // 2

    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            "SELECT u.email, p.seq AS project, v.seq AS vote FROM votes v"
            " JOIN users u ON u.id = v.voter_id JOIN projects p ON p.id = v.project_id"
            " WHERE v.event_id = $1",
            event.id,
        )
    finally:
        await conn.close()
    stored_pairs = [(row["email"], row["project"]) for row in rows]
    assert len(stored_pairs) == len(set(stored_pairs)), "a voter voted twice for a project"
    per_voter = Counter(email for email, _ in stored_pairs)
    # Nobody over the limit; and with one project more than the limit asked, everyone at it.
    assert set(per_voter) == set(voters)
    assert set(per_voter.values()) == {stack.vote_limit}, per_voter
    accepted = [
        (email, seq, answer.body["votes"])
        for (email, seq), answer in zip(ballots, answers, strict=True)
        if answer.status == 201
    ]
    assert {(email, seq) for email, seq, _ in accepted} == set(stored_pairs)
    # Every 201 stored, under the ID it answered.
    answered_ids = {vote["id"] for _, _, votes in accepted for vote in votes}  # type: ignore[attr-defined]
    assert answered_ids == {public_id(Entity.VOTE, row["vote"]) for row in rows}


async def test_login_mail_throttle_holds_across_instances(instances: Instances) -> None:
    stack = instances
    email = stack.event.attendee_emails[0]
    before = stack.balancer.responses()
    async with balanced_client(stack) as http:
        answers = await asyncio.gather(
            *(
                ask(http, "POST", "/request-login", json={"email": email})
                for _ in range(LOGIN_REQUESTS)
            )
        )
    assert_both_instances_answered(stack, before, answers)

    statuses = sorted(answer.status for answer in answers)
    assert statuses == [202] * LOGIN_LIMIT + [429] * (LOGIN_REQUESTS - LOGIN_LIMIT)
    assert {a.code for a in answers if a.status == 429} == {"too_many_login_requests"}
    mailed = [r for r in stack.loops.requests if r.json and r.json.get("email") == email]
    assert len(mailed) == LOGIN_LIMIT
    conn = await asyncpg.connect(stack.database_url)
    try:
        recorded = await conn.fetchval("SELECT count(*) FROM login_mails WHERE email = $1", email)
    finally:
        await conn.close()
    assert recorded == LOGIN_LIMIT


async def test_legacy_redirects_work_from_either_instance(instances: Instances) -> None:
    stack, event = instances, instances.event
    project = event.project_seqs[0]
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "UPDATE events SET airtable_id = 'recEvent000000014' WHERE seq = $1", event.seq
        )
        await conn.execute(
            "UPDATE projects SET airtable_id = 'recProject0000014' WHERE seq = $1", project
        )
    finally:
        await conn.close()
    event_path = f"/events/{public_id(Entity.EVENT, event.seq)}"
    project_path = f"/projects/{public_id(Entity.PROJECT, project)}"
    redirects = {
        "/legacy/recEvent000000014": event_path,
        "/legacy/recProject0000014": project_path,
        "/events/recEvent000000014?from=v1": f"{event_path}?from=v1",
        "/projects/recProject0000014": project_path,
    }

    before = stack.balancer.responses()
    answers: list[Answer] = []
    async with balanced_client(stack) as http:
        for path, location in redirects.items():
            # Two requests in a row: round robin sends them to different instances.
            asked = [await http.get(path) for _ in INSTANCES]
            followed = [await http.get(location) for _ in INSTANCES]
            for response in asked:
                assert response.status_code == 308, (path, response.text)
                assert response.headers["location"] == location
            for response in followed:
                assert response.status_code == 200, (location, response.text)
            served = {response.headers[INSTANCE_HEADER] for response in asked}
            assert served == set(INSTANCES), (path, served)
            answers += [
                Answer(r.status_code, None, r.headers[INSTANCE_HEADER], {})
                for r in [*asked, *followed]
            ]
    assert_both_instances_answered(stack, before, answers)


async def test_a_killed_instance_is_taken_out_and_the_other_answers(instances: Instances) -> None:
    # Last in the module: it leaves instance b dead.
    stack = instances
    path = f"/events/{public_id(Entity.EVENT, stack.event.seq)}"
    answers: list[tuple[float, int | None, str | None]] = []  # (when, status, instance)
    stop = asyncio.Event()

    async def reader(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                response = await http.get(path)
            except httpx.TransportError:
                answers.append((time.monotonic(), None, None))
                continue
            answers.append(
                (time.monotonic(), response.status_code, response.headers.get(INSTANCE_HEADER))
            )

    async with balanced_client(stack) as http:
        readers = [asyncio.create_task(reader(http)) for _ in range(FAILOVER_CLIENTS)]
        await asyncio.sleep(1.0)
        stack.processes["b"].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 15
        while stack.balancer.servers()["b"]["status"] != "DOWN":
            assert time.monotonic() < deadline, "HAProxy never took b out"
            await asyncio.sleep(0.05)
        down = time.monotonic()
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*readers)

    failed = [(at, status) for at, status, _ in answers if status != 200]
    print(
        f"\n{len(answers)} reads, {len(failed)} failed ({Counter(s for _, s in failed)}), all"
        f" within {max((at - killed for at, _ in failed), default=0):.2f} s of the SIGKILL;"
        f" b marked down {down - killed:.2f} s after it"
    )
    assert {instance for at, _, instance in answers if at < killed} == set(INSTANCES)
    # A connection b refuses is sent to a (retries, redispatch). What fails is what b had been
    # sent when it died: HAProxy answers 502, or closes the client's connection without an
    # answer when it had sent the request on a kept-alive connection to b (so that a client may
    # retry, as after any keep-alive race). Each reader loses a request or two, no more, and
    # none once HAProxy has taken b out.
    assert {status for _, status in failed} <= {502, None}
    assert len(failed) <= 2 * FAILOVER_CLIENTS
    assert all(killed <= at <= down for at, _ in failed)
    after_down = [(status, instance) for at, status, instance in answers if at > down]
    assert after_down and set(after_down) == {(200, "a")}
