"""Event phases (#16) over HTTP: what each phase allows, and v1's booleans driving the same rules.

draft → submission → voting → closed, set by the owner with `PUT /events/{id}` (`phase`,
`live_leaderboard`, `submissions_open_during_voting`) or, as v1 clients do, with `votable` and
`leaderboard_enabled` (podium.models.phase).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from podium.models import Event, User
from tests.api.conftest import (
    assert_error,
    attend,
    eid,
    join_event,
    joined,
    make_event,
    make_project,
    pid,
)
from tests.conftest import MakeUser, auth_headers

PROJECT = {
    "name": "Rover",
    "repo": "https://example.com/r",
    "image_url": "https://example.com/i.png",
    "demo": "https://example.com/d",
}


async def put_event(
    client: httpx.AsyncClient, owner: User, event: Event, **fields: Any
) -> httpx.Response:
    return await client.put(f"/events/{eid(event)}", json=fields, headers=auth_headers(owner))


async def changed(client: httpx.AsyncClient, owner: User, event: Event, **fields: Any) -> Any:
    response = await put_event(client, owner, event, **fields)
    assert response.status_code == 200, response.text
    return response.json()


def state(body: dict[str, Any]) -> tuple[str, bool, bool, bool]:
    return (body["phase"], body["live_leaderboard"], body["votable"], body["leaderboard_enabled"])


async def vote(client: httpx.AsyncClient, voter: User, event: Event, *projects: str) -> Any:
    return await client.post(
        "/events/vote",
        json={"event": eid(event), "projects": list(projects)},
        headers=auth_headers(voter),
    )


# --- the phase and v1's booleans ------------------------------------------------------------


async def test_a_new_event_is_in_submission_as_v1_events_were(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    response = await client.post(
        "/events/", json={"name": "Fresh"}, headers=auth_headers(await make_user())
    )
    assert response.status_code == 201
    body = response.json()
    assert state(body) == ("submission", False, False, False)
    assert body["submissions_open_during_voting"] is True


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ({"votable": True}, ("voting", False, True, False)),
        ({"votable": True, "leaderboard_enabled": True}, ("voting", True, True, True)),
        ({"leaderboard_enabled": True}, ("submission", True, False, True)),
        ({"phase": "draft"}, ("draft", False, False, False)),
        ({"phase": "closed"}, ("closed", False, False, True)),
        ({"phase": "voting", "votable": True}, ("voting", False, True, False)),
    ],
)
async def test_creating_with_a_phase_or_v1_booleans(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    created: dict[str, Any],
    expected: tuple[str, bool, bool, bool],
) -> None:
    response = await client.post(
        "/events/", json={"name": "Jam", **created}, headers=auth_headers(await make_user())
    )
    assert response.status_code == 201, response.text
    assert state(response.json()) == expected


# (phase, live) before → the v1 write → (phase, live, votable, leaderboard_enabled) after
V1_WRITES = [
    (("submission", False), {"votable": True}, ("voting", False, True, False)),
    (("submission", False), {"leaderboard_enabled": True}, ("submission", True, False, True)),
    (("draft", False), {"votable": True}, ("voting", False, True, False)),
    (("voting", False), {"votable": False}, ("submission", False, False, False)),
    (("voting", True), {"votable": False}, ("closed", True, False, True)),
    (
        ("voting", False),
        {"votable": False, "leaderboard_enabled": True},
        ("closed", False, False, True),
    ),
    (("voting", False), {"leaderboard_enabled": True}, ("voting", True, True, True)),
    (("closed", False), {"votable": True}, ("voting", True, True, True)),
    (("closed", False), {"leaderboard_enabled": False}, ("submission", False, False, False)),
    (("closed", False), {"leaderboard_enabled": True}, ("closed", False, False, True)),
    (("submission", True), {"leaderboard_enabled": False}, ("submission", False, False, False)),
]


@pytest.mark.parametrize(("before", "write", "after"), V1_WRITES)
async def test_v1_booleans_written_move_the_phase_and_read_back_as_written(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    before: tuple[str, bool],
    write: dict[str, bool],
    after: tuple[str, bool, bool, bool],
) -> None:
    owner = await make_user()
    event = await make_event(owner, phase=before[0], live_leaderboard=before[1])

    body = await changed(client, owner, event, **write)

    assert state(body) == after
    assert {name: body[name] for name in write} == write
    public = (await client.get(f"/events/{eid(event)}", headers=auth_headers(owner))).json()
    assert state(public) == after


@pytest.mark.parametrize(
    "write",
    [
        {"phase": "submission", "votable": True},
        {"phase": "voting", "votable": False},
        {"phase": "closed", "leaderboard_enabled": False},
        {"live_leaderboard": False, "leaderboard_enabled": True},
    ],
)
async def test_a_phase_and_v1_booleans_that_disagree_are_422_and_change_nothing(
    client: httpx.AsyncClient, make_user: MakeUser, write: dict[str, Any]
) -> None:
    owner = await make_user()
    event = await make_event(owner)

    assert_error(await put_event(client, owner, event, **write), 422, "phase_fields_conflict")
    body = (await client.get(f"/events/{eid(event)}")).json()
    assert state(body) == ("submission", False, False, False)


async def test_the_owner_steps_the_phases_forward_and_back(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, phase="draft")
    for phase in ("submission", "voting", "closed", "voting", "submission"):
        assert (await changed(client, owner, event, phase=phase))["phase"] == phase


async def test_only_the_owner_changes_the_phase(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, other = await make_user(), await make_user()
    event = await make_event(owner)
    assert_error(await put_event(client, other, event, phase="voting"), 403, "forbidden")
    response = await client.put(f"/events/{eid(event)}", json={"phase": "voting"})
    assert response.status_code == 401


@pytest.mark.parametrize("phase", ["paused", "", None, 3])
async def test_an_unknown_phase_is_422(
    client: httpx.AsyncClient, make_user: MakeUser, phase: object
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    assert_error(await put_event(client, owner, event, phase=phase), 422, "validation_error")


# --- draft: the owner's alone ---------------------------------------------------------------


async def test_a_draft_event_is_404_to_everyone_but_its_owner(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, other = await make_user(), await make_user()
    event = await make_event(owner, phase="draft")
    reads = [f"/events/{eid(event)}", f"/events/id/{event.slug}", f"/events/{eid(event)}/projects"]

    for path in reads:
        assert_error(await client.get(path), 404, "not_found")
        assert_error(await client.get(path, headers=auth_headers(other)), 404, "not_found")
        bad_token = {"Authorization": "Bearer not-a-token"}
        assert_error(await client.get(path, headers=bad_token), 404, "not_found")
        assert (await client.get(path, headers=auth_headers(owner))).status_code == 200, path

    listed = (await client.get("/events/", headers=auth_headers(owner))).json()
    assert [e["id"] for e in listed["owned_events"]] == [eid(event)]


async def test_a_draft_event_cannot_be_joined_until_it_is_published(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner, phase="draft")

    assert_error(await join_event(client, ada, event.join_code), 404, "not_found")
    assert_error(await join_event(client, owner, event.join_code), 404, "not_found")

    await changed(client, owner, event, phase="submission")
    await joined(client, ada, event.join_code)
    listed = (await client.get("/events/", headers=auth_headers(ada))).json()
    assert [e["id"] for e in listed["attending_events"]] == [eid(event)]


async def test_an_event_goes_back_to_draft_only_while_nobody_has_joined_it(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner)
    assert (await changed(client, owner, event, phase="draft"))["phase"] == "draft"
    await changed(client, owner, event, phase="submission")
    await joined(client, ada, event.join_code)

    assert_error(await put_event(client, owner, event, phase="draft"), 409, "event_not_empty")
    assert (await client.get(f"/events/{eid(event)}")).json()["phase"] == "submission"


async def test_an_event_with_a_project_but_no_attendee_cannot_go_back_to_draft(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    await make_project(await make_user(), event)  # its owner was removed from the event since
    assert_error(await put_event(client, owner, event, phase="draft"), 409, "event_not_empty")


async def test_a_vote_in_a_draft_event_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, phase="draft")
    project = await make_project(owner, event)
    assert_error(await vote(client, await make_user(), event, pid(project)), 404, "not_found")


# --- projects: created, joined, edited and deleted while submissions are open ----------------


async def project_changes(
    client: httpx.AsyncClient, make_user: MakeUser, event: Event
) -> dict[str, httpx.Response]:
    """Each project change an attendee can make, tried once in `event`'s current phase."""
    maker, helper = await make_user(), await make_user()
    await attend(event, maker, helper)
    project = await make_project(maker, event, demo="https://example.com/d")
    headers = auth_headers(maker)
    return {
        "create": await client.post(
            "/projects/", json={**PROJECT, "event": eid(event)}, headers=headers
        ),
        "join": await client.post(
            "/projects/join",
            params={"join_code": project.join_code},
            headers=auth_headers(helper),
        ),
        "edit": await client.put(f"/projects/{pid(project)}", json=PROJECT, headers=headers),
        "delete": await client.delete(f"/projects/{pid(project)}", headers=headers),
    }


OK = {"create": 201, "join": 200, "edit": 200, "delete": 204}


@pytest.mark.parametrize(
    ("phase", "open_during_voting", "allowed"),
    [
        ("submission", False, True),
        ("voting", True, True),
        ("voting", False, False),
        ("closed", True, False),
    ],
)
async def test_projects_change_only_while_submissions_are_open(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    phase: str,
    open_during_voting: bool,
    allowed: bool,
) -> None:
    event = await make_event(
        await make_user(), phase=phase, submissions_open_during_voting=open_during_voting
    )
    responses = await project_changes(client, make_user, event)
    for change, response in responses.items():
        if allowed:
            assert response.status_code == OK[change], (change, response.text)
        else:
            assert_error(response, 403, "submissions_closed")


async def test_closing_submissions_during_voting_is_the_owners_switch(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, votable=True)
    body = await changed(client, owner, event, submissions_open_during_voting=False)
    assert (body["phase"], body["submissions_open_during_voting"]) == ("voting", False)
    responses = await project_changes(client, make_user, event)
    assert {change: r.status_code for change, r in responses.items()} == dict.fromkeys(OK, 403)


async def test_v1_votable_false_after_the_results_closes_projects(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, votable=True, leaderboard_enabled=True)
    assert (await changed(client, owner, event, votable=False))["phase"] == "closed"
    responses = await project_changes(client, make_user, event)
    assert {change: r.status_code for change, r in responses.items()} == dict.fromkeys(OK, 403)


# --- votes: only during voting --------------------------------------------------------------


async def voting_setting(
    make_user: MakeUser, **event_fields: Any
) -> tuple[User, Event, User, list[str]]:
    owner, maker, voter = await make_user(), await make_user(), await make_user()
    event = await make_event(owner, **event_fields)
    await attend(event, maker, voter)
    projects = [pid(await make_project(maker, event, name=f"P{n}")) for n in range(4)]
    return owner, event, voter, projects


@pytest.mark.parametrize("phase", ["submission", "closed"])
async def test_votes_outside_voting_are_403(
    client: httpx.AsyncClient, make_user: MakeUser, phase: str
) -> None:
    _, event, voter, projects = await voting_setting(make_user, phase=phase)
    assert_error(await vote(client, voter, event, projects[0]), 403, "voting_closed")


async def test_v1_votable_opens_and_ends_voting(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, event, voter, projects = await voting_setting(make_user)
    assert_error(await vote(client, voter, event, projects[0]), 403, "voting_closed")

    assert (await changed(client, owner, event, votable=True))["phase"] == "voting"
    assert (await vote(client, voter, event, projects[0])).status_code == 201

    await changed(client, owner, event, votable=False)
    assert_error(await vote(client, voter, event, projects[1]), 403, "voting_closed")


async def test_the_phase_opens_and_closes_voting(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, event, voter, projects = await voting_setting(make_user)
    body = await changed(client, owner, event, phase="voting")
    assert body["votable"] is True
    assert (await vote(client, voter, event, projects[0])).status_code == 201
    body = await changed(client, owner, event, phase="closed")
    assert (body["votable"], body["leaderboard_enabled"]) == (False, True)
    assert_error(await vote(client, voter, event, projects[1]), 403, "voting_closed")


async def test_a_vote_arriving_while_voting_closes_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    _, event, voter, projects = await voting_setting(make_user, phase="voting")
    async with db.acquire() as conn:
        close = conn.transaction()
        await close.start()
        # The owner's close, not yet committed: it holds the event row.
        await conn.execute("UPDATE events SET phase = 'closed' WHERE id = $1", event.pk)
        in_flight = asyncio.create_task(vote(client, voter, event, projects[0]))
        await asyncio.sleep(0.3)
        assert not in_flight.done(), "the vote must wait for the close (FOR SHARE)"
        await close.commit()
        response = await in_flight
    assert_error(response, 403, "voting_closed")
    assert await db.fetchval("SELECT count(*) FROM votes") == 0


async def test_closing_waits_for_a_vote_in_flight_which_counts(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, event, voter, _ = await voting_setting(make_user, phase="voting")
    async with db.acquire() as conn:
        ballot = conn.transaction()
        await ballot.start()
        # A vote in flight holds the event row FOR SHARE, as services.voting does.
        await conn.execute("SELECT 1 FROM events WHERE id = $1 FOR SHARE", event.pk)
        await conn.execute(
            "INSERT INTO votes (voter_id, project_id, event_id) "
            "SELECT $1, id, event_id FROM projects WHERE event_id = $2 LIMIT 1",
            voter.pk,
            event.pk,
        )
        closing = asyncio.create_task(put_event(client, owner, event, phase="closed"))
        await asyncio.sleep(0.3)
        assert not closing.done(), "the close must wait for the vote in flight"
        await ballot.commit()
        response = await closing
    assert response.status_code == 200
    ranked = await client.get(f"/events/{eid(event)}/projects", params={"leaderboard": "true"})
    assert sum(project["points"] for project in ranked.json()) == 1


async def test_a_project_created_while_submissions_close_is_refused(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, maker = await make_user(), await make_user()
    event = await make_event(owner, phase="voting", submissions_open_during_voting=True)
    await attend(event, maker)
    async with db.acquire() as conn:
        switch = conn.transaction()
        await switch.start()
        await conn.execute(
            "UPDATE events SET submissions_open_during_voting = false WHERE id = $1", event.pk
        )
        creating = asyncio.create_task(
            client.post(
                "/projects/", json={**PROJECT, "event": eid(event)}, headers=auth_headers(maker)
            )
        )
        await asyncio.sleep(0.3)
        assert not creating.done()
        await switch.commit()
        response = await creating
    assert_error(response, 403, "submissions_closed")


# --- the leaderboard: public once closed, or live ------------------------------------------


async def ranking(client: httpx.AsyncClient, event: Event) -> httpx.Response:
    return await client.get(f"/events/{eid(event)}/projects", params={"leaderboard": "true"})


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        ({"phase": "submission"}, False),
        ({"phase": "voting"}, False),
        ({"phase": "voting", "live_leaderboard": True}, True),
        ({"phase": "submission", "live_leaderboard": True}, True),
        ({"phase": "closed"}, True),
        ({"votable": True, "leaderboard_enabled": True}, True),
        ({"leaderboard_enabled": True}, True),
    ],
)
async def test_the_ranking_and_points_are_public_once_closed_or_live(
    client: httpx.AsyncClient, make_user: MakeUser, fields: dict[str, Any], shown: bool
) -> None:
    _, event, _, projects = await voting_setting(make_user, **fields)

    response = await ranking(client, event)
    listed = (await client.get(f"/events/{eid(event)}/projects")).json()
    page = (await client.get(f"/projects/{projects[0]}")).json()
    if shown:
        assert response.status_code == 200
        assert [project["points"] for project in response.json()] == [0, 0, 0, 0]
        assert {project["points"] for project in listed} == {0}
        assert page["points"] == 0
    else:
        assert_error(response, 403, "leaderboard_disabled")
        assert {project["points"] for project in listed} == {None}
        assert page["points"] is None


async def test_v1_leaderboard_enabled_turns_the_live_leaderboard_on_and_off(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, event, _, _ = await voting_setting(make_user, phase="voting")
    assert_error(await ranking(client, event), 403, "leaderboard_disabled")
    body = await changed(client, owner, event, leaderboard_enabled=True)
    assert (body["phase"], body["live_leaderboard"]) == ("voting", True)
    assert (await ranking(client, event)).status_code == 200
    await changed(client, owner, event, leaderboard_enabled=False)
    assert_error(await ranking(client, event), 403, "leaderboard_disabled")


async def test_a_phase_change_moves_the_tags_of_the_event_and_its_lists(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, event, _, _ = await voting_setting(make_user, phase="voting")
    paths = [f"/events/{eid(event)}", f"/events/{eid(event)}/projects"]
    before = [(await client.get(path)).headers["etag"] for path in paths]

    await changed(client, owner, event, phase="closed")

    after = [(await client.get(path)).headers["etag"] for path in paths]
    assert all(old != new for old, new in zip(before, after, strict=True))
    stale = await client.get(paths[1], headers={"If-None-Match": before[1]})
    assert stale.status_code == 200


async def test_attending_stays_open_after_voting_closes(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    event = await make_event(await make_user(), phase="closed")
    await joined(client, await make_user(), event.join_code)
