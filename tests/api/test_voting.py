"""POST /events/vote: every rule with its error, all-or-nothing, and the rules under concurrency."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from podium.ids import Entity
from podium.models import User
from podium.public_ids import public_id
from podium.services.join_codes import new_join_code
from tests.api.conftest import error_code
from tests.conftest import MakeUser, access_token, auth_headers


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    seq: int
    public: str


async def insert_event(db: asyncpg.Pool, owner: User, *, votable: bool = True) -> Row:
    row = await db.fetchrow(
        "INSERT INTO events (name, slug, join_code, owner_id, phase) "
        "VALUES ('Hack', $1, $2, $3, $4) RETURNING id, seq",
        f"hack-{secrets.token_hex(4)}",
        new_join_code(),
        owner.pk,
        "voting" if votable else "submission",
    )
    return Row(row["id"], row["seq"], public_id(Entity.EVENT, row["seq"]))


async def insert_projects(
    db: asyncpg.Pool, event: Row, owner: uuid.UUID, count: int = 1
) -> list[Row]:
    rows = await db.fetch(
        "INSERT INTO projects (name, join_code, owner_id, event_id) "
        "SELECT 'Project ' || n, code, $1, $2 FROM unnest($3::text[]) WITH ORDINALITY AS c(code, n) "
        "RETURNING id, seq",
        owner,
        event.id,
        [new_join_code() for _ in range(count)],
    )
    return [Row(r["id"], r["seq"], public_id(Entity.PROJECT, r["seq"])) for r in rows]


async def add_attendees(db: asyncpg.Pool, event: Row, *users: uuid.UUID) -> None:
    await db.executemany(
        "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)",
        [(event.id, user) for user in users],
    )


async def vote_rows(db: asyncpg.Pool, event: Row) -> list[asyncpg.Record]:
    return await db.fetch("SELECT voter_id, project_id FROM votes WHERE event_id = $1", event.id)


@dataclass(frozen=True)
class Setting:
    """A votable event with projects by a maker, and a voter who attends it."""

    event: Row
    projects: list[Row]
    maker: User
    voter: User


async def setting(
    db: asyncpg.Pool, make_user: MakeUser, *, projects: int = 4, votable: bool = True
) -> Setting:
    owner, maker, voter = await make_user(), await make_user(), await make_user()
    event = await insert_event(db, owner, votable=votable)
    await add_attendees(db, event, maker.pk, voter.pk)
    return Setting(event, await insert_projects(db, event, maker.pk, projects), maker, voter)


async def vote(
    client: httpx.AsyncClient, user: User, event: str, projects: list[str]
) -> httpx.Response:
    return await client.post(
        "/events/vote", json={"event": event, "projects": projects}, headers=auth_headers(user)
    )


async def test_vote_stores_one_vote_per_project(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=4)  # 4 projects: 2 votes each
    chosen = [s.projects[2].public, s.projects[0].public]

    response = await vote(client, s.voter, s.event.public, chosen)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["event_id"] == s.event.public
    assert [v["project_id"] for v in body["votes"]] == chosen
    assert body["votes_remaining"] == 0
    rows = await db.fetch("SELECT seq, voter_id FROM votes ORDER BY seq")
    assert sorted(public_id(Entity.VOTE, r["seq"]) for r in rows) == sorted(
        v["id"] for v in body["votes"]
    )
    assert {r["voter_id"] for r in rows} == {s.voter.pk}


async def test_vote_needs_a_token(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    response = await client.post(
        "/events/vote", json={"event": s.event.public, "projects": [s.projects[0].public]}
    )
    assert response.status_code == 401


async def test_vote_in_unknown_event_is_404(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    unknown = public_id(Entity.EVENT, s.event.seq + 1000)
    response = await vote(client, s.voter, unknown, [s.projects[0].public])
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"event": "nope", "projects": ["x"]},
        {"projects": []},
        {"event": None, "projects": []},
    ],
)
async def test_malformed_vote_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, body: dict[str, Any]
) -> None:
    response = await client.post("/events/vote", json=body, headers=auth_headers(await make_user()))
    assert response.status_code == 422


async def test_event_id_given_as_project_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    response = await vote(client, s.voter, s.event.public, [s.event.public])
    assert response.status_code == 422


async def test_vote_without_projects_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    response = await vote(client, s.voter, s.event.public, [])
    assert response.status_code == 422


async def test_vote_naming_more_projects_than_any_event_allows_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=20)
    response = await vote(client, s.voter, s.event.public, [p.public for p in s.projects[:4]])
    assert response.status_code == 422


async def test_same_project_twice_in_a_request_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    project = s.projects[0].public
    response = await vote(client, s.voter, s.event.public, [project, project])
    assert response.status_code == 422
    assert await vote_rows(db, s.event) == []


async def test_vote_in_event_not_votable_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, votable=False)
    response = await vote(client, s.voter, s.event.public, [s.projects[0].public])
    assert response.status_code == 403
    assert error_code(response) == "voting_closed"


async def test_vote_by_non_attendee_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    outsider = await make_user()
    response = await vote(client, outsider, s.event.public, [s.projects[0].public])
    assert response.status_code == 403
    assert error_code(response) == "not_attending"


async def test_vote_by_event_owner_who_does_not_attend_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    owner_id = await db.fetchval("SELECT owner_id FROM events WHERE id = $1", s.event.id)
    owner = await User.objects.get(id=owner_id)
    response = await vote(client, owner, s.event.public, [s.projects[0].public])
    assert response.status_code == 403
    assert error_code(response) == "not_attending"


async def test_vote_for_unknown_project_is_404(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    unknown = public_id(Entity.PROJECT, s.projects[-1].seq + 1000)
    response = await vote(client, s.voter, s.event.public, [s.projects[0].public, unknown])
    assert response.status_code == 404
    assert unknown in response.json()["error"]["message"]
    assert await vote_rows(db, s.event) == []


async def test_vote_for_project_of_another_event_is_400(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    other = await insert_event(db, s.maker)
    [elsewhere] = await insert_projects(db, other, s.maker.pk)
    response = await vote(client, s.voter, s.event.public, [s.projects[0].public, elsewhere.public])
    assert response.status_code == 400
    assert error_code(response) == "project_not_in_event"
    assert await vote_rows(db, s.event) == []


async def test_vote_for_own_project_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    [own] = await insert_projects(db, s.event, s.voter.pk)
    response = await vote(client, s.voter, s.event.public, [s.projects[0].public, own.public])
    assert response.status_code == 403
    assert error_code(response) == "own_project"
    assert await vote_rows(db, s.event) == []


async def test_vote_for_project_one_collaborates_on_is_403(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user)
    await db.execute(
        "INSERT INTO project_collaborators (project_id, user_id) VALUES ($1, $2)",
        s.projects[1].id,
        s.voter.pk,
    )
    response = await vote(client, s.voter, s.event.public, [s.projects[1].public])
    assert response.status_code == 403
    assert error_code(response) == "own_project"


async def test_voting_again_for_a_project_is_409_and_stores_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=4)
    assert (await vote(client, s.voter, s.event.public, [s.projects[0].public])).status_code == 201

    again = await vote(
        client, s.voter, s.event.public, [s.projects[1].public, s.projects[0].public]
    )

    assert again.status_code == 409
    assert error_code(again) == "already_voted"
    assert [r["project_id"] for r in await vote_rows(db, s.event)] == [s.projects[0].id]


@pytest.mark.parametrize(("projects", "limit"), [(3, 1), (4, 2), (19, 2), (20, 3)])
async def test_votes_beyond_the_event_limit_are_400(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser, projects: int, limit: int
) -> None:
    s = await setting(db, make_user, projects=projects)
    first = await vote(client, s.voter, s.event.public, [p.public for p in s.projects[:limit]])
    assert first.status_code == 201

    more = await vote(client, s.voter, s.event.public, [s.projects[limit].public])

    assert more.status_code == 400
    assert error_code(more) == "vote_limit_exceeded"
    assert len(await vote_rows(db, s.event)) == limit


async def test_request_over_the_limit_stores_none_of_its_votes(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=3)  # 1 vote per attendee
    response = await vote(client, s.voter, s.event.public, [p.public for p in s.projects[:2]])
    assert response.status_code == 400
    assert error_code(response) == "vote_limit_exceeded"
    assert await vote_rows(db, s.event) == []


async def test_one_voter_racing_twenty_requests_never_exceeds_the_limit(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=20)  # 3 votes each
    rng = random.Random(7)
    # Ten single-project requests for distinct projects guarantee the limit is reached whatever
    # the order; the rest overlap them and each other.
    requests = [[p.public] for p in s.projects[:10]] + [
        [p.public for p in rng.sample(s.projects, rng.randint(2, 3))] for _ in range(10)
    ]
    rng.shuffle(requests)

    responses = await asyncio.gather(
        *(vote(client, s.voter, s.event.public, projects) for projects in requests)
    )

    assert {r.status_code for r in responses} <= {201, 400, 409}, [r.text for r in responses]
    won = [v["project_id"] for r in responses if r.status_code == 201 for v in r.json()["votes"]]
    rows = await vote_rows(db, s.event)
    by_id = {p.id: p.public for p in s.projects}
    assert len(rows) == 3
    assert sorted(by_id[r["project_id"]] for r in rows) == sorted(won)


async def test_hundred_voters_on_one_project_give_it_hundred_points(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    s = await setting(db, make_user, projects=4)
    voters = await db.fetch(
        "INSERT INTO users (email, display_name, first_name) "
        "SELECT 'voter' || n || '@example.com', 'Voter', 'Voter' FROM generate_series(1, 100) n "
        "RETURNING id, email"
    )
    await add_attendees(db, s.event, *(v["id"] for v in voters))
    target = s.projects[0]

    responses = await asyncio.gather(
        *(
            client.post(
                "/events/vote",
                json={"event": s.event.public, "projects": [target.public]},
                headers={"Authorization": f"Bearer {access_token(v['email'])}"},
            )
            for v in voters
        )
    )

    assert [r.status_code for r in responses] == [201] * 100
    points = await db.fetchval("SELECT count(*) FROM votes WHERE project_id = $1", target.id)
    assert points == 100
