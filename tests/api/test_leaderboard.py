"""An event's project list, its leaderboard, and the owner's admin leaderboard."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from podium.ids import DEVELOPMENT_ID_KEY, Entity
from podium.models import Event, Project, ProjectCollaborator, Vote
from podium.public_ids import configure_codec, public_id
from podium.queries.projects import SHOWN_AS_STORED_NAMES
from podium.services import leaderboard
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def give_votes(project: Project, event: Event, count: int, make_user: MakeUser) -> None:
    for _ in range(count):
        voter = await make_user()
        await attend(event, voter)
        await Vote.objects.create(voter=voter, project=project, event=event)


# --- the event's project list -------------------------------------------------------------


async def test_attendee_lists_the_events_projects_only(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, grace = await make_user(), await make_user()
    event, other = await make_event(await make_user()), await make_event(await make_user())
    await attend(event, ada, grace)
    mine = await make_project(ada, event, "Rover")
    theirs = await make_project(grace, event, "Lamp")
    await ProjectCollaborator.objects.create(project=theirs, user=ada)
    await make_project(await make_user(), other, "Elsewhere")

    response = await client.get(f"/events/{eid(event)}/projects", headers=auth_headers(ada))

    assert response.status_code == 200, response.text
    listed = {p["id"]: p for p in response.json()}
    assert set(listed) == {pid(mine), pid(theirs)}
    assert listed[pid(theirs)]["collaborators"][0]["display_name"] == ada.display_name
    assert all("join_code" not in p for p in listed.values())
    assert all(p["points"] is None for p in listed.values())


async def test_project_list_order_is_shuffled(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(await make_user())
    await attend(event, ada)
    for n in range(8):
        await make_project(ada, event, f"P{n}")

    orders = set()
    for _ in range(10):
        response = await client.get(f"/events/{eid(event)}/projects", headers=auth_headers(ada))
        orders.add(tuple(p["name"] for p in response.json()))

    # 10 draws of 8! orders: all equal with probability (1/40320)**9.
    assert len(orders) > 1


async def test_event_owner_lists_projects_without_attending(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    event = await make_event(organiser)
    await make_project(await make_user(), event, "Rover")

    response = await client.get(f"/events/{eid(event)}/projects", headers=auth_headers(organiser))

    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["Rover"]


async def test_anyone_lists_projects_and_the_enabled_leaderboard(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """v1 served the list to anyone: a stranger and an anonymous visitor see what attendees see."""
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, leaderboard_enabled=True)
    await attend(event, ada)
    await make_project(ada, event, "Rover")
    stranger = await make_user()

    for query in ("", "?leaderboard=true"):
        url = f"/events/{eid(event)}/projects{query}"
        as_attendee = (await client.get(url, headers=auth_headers(ada))).json()
        for headers in ({}, auth_headers(stranger)):
            response = await client.get(url, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == as_attendee


async def test_anonymous_leaderboard_needs_it_enabled(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await make_event(await make_user())
    response = await client.get(f"/events/{eid(event)}/projects?leaderboard=true")
    assert_error(response, 403, "leaderboard_disabled")
    assert_error(await client.get("/events/nope/projects"), 404, "not_found")


async def test_listing_projects_of_an_unknown_event_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada = await make_user()
    event = await make_event(ada)
    project = await make_project(ada, event, "Rover")
    headers = auth_headers(ada)

    for wrong in (pid(project), public_id(Entity.EVENT, event.seq + 1), "e_", "x" * 3000):
        response = await client.get(f"/events/{wrong}/projects", headers=headers)
        assert_error(response, 404, "not_found")


async def test_empty_event_lists_no_projects(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    event = await make_event(organiser, leaderboard_enabled=True)
    for query in ("", "?leaderboard=true"):
        response = await client.get(
            f"/events/{eid(event)}/projects{query}", headers=auth_headers(organiser)
        )
        assert response.json() == []


async def test_invalid_leaderboard_flag_is_422(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    event = await make_event(organiser)
    response = await client.get(
        f"/events/{eid(event)}/projects?leaderboard=maybe", headers=auth_headers(organiser)
    )
    assert_error(response, 422, "validation_error")


# --- the leaderboard ----------------------------------------------------------------------


async def test_leaderboard_is_refused_unless_enabled(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, organiser = await make_user(), await make_user()
    event = await make_event(organiser)
    await attend(event, ada)

    for user in (ada, organiser):
        response = await client.get(
            f"/events/{eid(event)}/projects?leaderboard=true", headers=auth_headers(user)
        )
        assert_error(response, 403, "leaderboard_disabled")


async def test_leaderboard_ranks_by_points_with_ties_in_submission_order(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    ada = await make_user()
    event = await make_event(await make_user(), leaderboard_enabled=True)
    await attend(event, ada)
    # Created in this order; ties must keep it, whatever the sequence numbers say.
    late_tie = await make_project(ada, event, "late tie")
    early_tie = await make_project(ada, event, "early tie")
    winner = await make_project(ada, event, "winner")
    same_time_b = await make_project(ada, event, "same time b")
    same_time_a = await make_project(ada, event, "same time a")
    nothing = await make_project(ada, event, "no votes")
    times = {
        late_tie: T0 + timedelta(hours=2),
        early_tie: T0 + timedelta(hours=1),
        winner: T0 + timedelta(hours=3),
        same_time_b: T0,
        same_time_a: T0,
        nothing: T0,
    }
    for project, created in times.items():
        await db.execute("UPDATE projects SET created_at = $1 WHERE id = $2", created, project.pk)
    for project, votes in ((winner, 3), (late_tie, 2), (early_tie, 2), (same_time_b, 1)):
        await give_votes(project, event, votes, make_user)
    await give_votes(same_time_a, event, 1, make_user)

    response = await client.get(
        f"/events/{eid(event)}/projects?leaderboard=true", headers=auth_headers(ada)
    )

    assert response.status_code == 200, response.text
    ranked = [(p["name"], p["points"]) for p in response.json()]
    # Same created_at: the lower sequence number (created first) wins the tie.
    assert ranked == [
        ("winner", 3),
        ("early tie", 2),
        ("late tie", 2),
        ("same time b", 1),
        ("same time a", 1),
        ("no votes", 0),
    ]


async def test_points_equal_the_vote_count(
    client: httpx.AsyncClient, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    organiser = await make_user()
    event = await make_event(organiser, leaderboard_enabled=True)
    projects = [await make_project(await make_user(), event, f"P{n}") for n in range(4)]
    for n, project in enumerate(projects):
        await give_votes(project, event, n, make_user)
    await db.execute("DELETE FROM votes WHERE project_id = $1", projects[3].pk)

    response = await client.get(
        f"/events/{eid(event)}/projects?leaderboard=true", headers=auth_headers(organiser)
    )

    counts = dict(
        await db.fetch(
            "SELECT p.name, count(v.id) FROM projects p LEFT JOIN votes v "
            "ON v.project_id = p.id GROUP BY p.name"
        )
    )
    assert {p["name"]: p["points"] for p in response.json()} == counts
    assert counts == {"P0": 0, "P1": 1, "P2": 2, "P3": 0}


async def test_listing_costs_the_same_queries_for_2_or_20_projects(
    client: httpx.AsyncClient, make_user: MakeUser, count_queries: list[str]
) -> None:
    organiser = await make_user()
    small = await make_event(organiser, leaderboard_enabled=True)
    large = await make_event(organiser, leaderboard_enabled=True)
    for n in range(2):
        await make_project(await make_user(), small, f"S{n}")
    for n in range(20):
        project = await make_project(await make_user(), large, f"L{n}")
        await ProjectCollaborator.objects.create(project=project, user=await make_user())
        await give_votes(project, large, 1, make_user)

    costs = []
    for event in (small, large):
        for url in (
            f"/events/{eid(event)}/projects?leaderboard=true",
            f"/events/admin/{eid(event)}/leaderboard",
        ):
            count_queries.clear()
            response = await client.get(url, headers=auth_headers(organiser))
            assert response.status_code == 200
            costs.append(len(count_queries))

    assert costs[:2] == costs[2:]
    assert max(costs) <= 4  # user, event, (attendance,) the list


# --- the admin leaderboard ----------------------------------------------------------------


async def test_owner_sees_the_admin_leaderboard_even_when_disabled(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    ada = await make_user(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    event = await make_event(organiser)
    first = await make_project(ada, event, "Rover")
    second = await make_project(ada, event, "Lamp")
    await give_votes(second, event, 2, make_user)
    await give_votes(first, event, 1, make_user)

    response = await client.get(
        f"/events/admin/{eid(event)}/leaderboard", headers=auth_headers(organiser)
    )

    assert response.status_code == 200, response.text
    board = response.json()
    assert [(p["id"], p["points"]) for p in board] == [(pid(second), 2), (pid(first), 1)]
    assert board[0]["join_code"] == second.join_code
    assert board[0]["owner_email"] == "ada@example.com"
    assert board[0]["owner"]["display_name"] == "Ada L."
    assert board[0]["created_at"]


async def test_only_the_event_owner_sees_the_admin_leaderboard(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    ada, stranger = await make_user(), await make_user()
    event = await make_event(await make_user(), leaderboard_enabled=True)
    await attend(event, ada)
    await make_project(ada, event, "Rover")

    for user in (ada, stranger):
        response = await client.get(
            f"/events/admin/{eid(event)}/leaderboard", headers=auth_headers(user)
        )
        assert_error(response, 403, "forbidden")
    anonymous = await client.get(f"/events/admin/{eid(event)}/leaderboard")
    assert_error(anonymous, 401, "unauthorized")


async def test_admin_leaderboard_of_a_project_id_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    event = await make_event(organiser)
    project = await make_project(organiser, event, "Rover")

    response = await client.get(
        f"/events/admin/{pid(project)}/leaderboard", headers=auth_headers(organiser)
    )

    assert_error(response, 404, "not_found")


async def test_admin_leaderboard_redirects_a_v1_event_id(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    organiser = await make_user()
    event = await make_event(organiser, airtable_id="recBBBBBBBBBBBBBB")

    response = await client.get(
        "/events/admin/recBBBBBBBBBBBBBB/leaderboard", headers=auth_headers(organiser)
    )

    assert response.status_code == 308
    assert response.headers["location"] == f"/events/admin/{eid(event)}/leaderboard"


# --- the list items' memo (services.leaderboard._JsonOfRow) -------------------------------


def _row(seq: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seq": seq,
        "name": f"P{seq}",
        "repo": "https://github.com/a/b",
        "image_url": "https://example.com/i.png",
        "demo": "",
        "description": "",
        "hours_spent": 3,
        "event_seq": 1,
        "leaderboard_enabled": True,
        "owner_seq": 7,
        "owner_display_name": "Ada L.",
        "collaborator_seqs": [8],
        "collaborator_names": ["Grace H."],
        "points": 2,
    }
    # A column added to the projection later shows as stored: a value for it too.
    shown = {name: "" for name in SHOWN_AS_STORED_NAMES if name not in row}
    return {**row, **shown, **changes}


def test_a_memoised_list_item_follows_every_change_of_its_row() -> None:
    items = leaderboard._JsonOfRow(leaderboard._public_fields, max_items=100)
    first = json.loads(items.join([_row(1), _row(2)]))
    assert [item["points"] for item in first] == [2, 2]

    changed = json.loads(
        items.join(
            [
                _row(1, points=3),
                _row(2, collaborator_names=["Grace Hopper"], leaderboard_enabled=False),
            ]
        )
    )

    assert changed[0]["points"] == 3
    assert changed[1]["collaborators"][0]["display_name"] == "Grace Hopper"
    assert changed[1]["points"] is None
    assert items.join([]) == b"[]"


def test_the_memo_is_bounded_and_starts_over_with_a_new_id_key() -> None:
    items = leaderboard._JsonOfRow(leaderboard._public_fields, max_items=3)
    items.join([_row(n) for n in range(1, 6)])
    assert len(items._memo) <= 3

    before = json.loads(items.join([_row(1)]))[0]["id"]
    configure_codec("another-key-" + "k" * 40)
    try:
        after = json.loads(items.join([_row(1)]))[0]["id"]
    finally:
        configure_codec(DEVELOPMENT_ID_KEY)
    assert after != before
    assert json.loads(items.join([_row(1)]))[0]["id"] == before
