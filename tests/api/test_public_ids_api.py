"""Public IDs at the HTTP boundary: typed, canonical, and legacy v1 links redirect."""

from __future__ import annotations

import httpx
import pytest

from podium.ids import Entity
from podium.models import Event, EventAttendee, Project, Referral, User, Vote
from podium.public_ids import public_id
from tests.conftest import MakeUser, auth_headers

REC = {
    "user": "recUser0000000001",
    "event": "recEvent000000001",
    "project": "recProject0000001",
    "vote": "recVote0000000001",
    "referral": "recReferral000001",
}


@pytest.fixture
async def world(make_user: MakeUser) -> dict[str, object]:
    owner = await make_user(airtable_id=REC["user"])
    voter = await make_user()
    event = await Event.objects.create(
        name="Hack",
        slug="hack",
        join_code="HACK01",
        owner=owner,
        phase="voting",
        airtable_id=REC["event"],
    )
    for user in (owner, voter):
        await EventAttendee.objects.create(event=event, user=user)
    project = await Project.objects.create(
        name="P",
        join_code="PROJ01",
        owner=owner,
        event=event,
        demo="https://x.io",
        airtable_id=REC["project"],
    )
    vote = await Vote.objects.create(
        voter=voter, project=project, event=event, airtable_id=REC["vote"]
    )
    referral = await Referral.objects.create(
        content="a friend", user=voter, event=event, airtable_id=REC["referral"]
    )
    return {
        "owner": owner,
        "voter": voter,
        "event": event,
        "project": project,
        "vote": vote,
        "referral": referral,
    }


def aliases(value: str) -> list[str]:
    """Near misses of a valid ID: none of them may reach a row."""
    return [
        value.swapcase(),
        value[:-1],
        value + value[-1],
        value + "A",
        value[0] + value[2:],
        value[:-1] + ("A" if value[-1] != "A" else "B"),
        " " + value,
        value.upper(),
        value.lower(),
    ]


async def test_each_route_family_accepts_its_own_ids(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event, project, owner = world["event"], world["project"], world["owner"]
    assert isinstance(event, Event) and isinstance(project, Project) and isinstance(owner, User)
    headers = auth_headers(owner)
    event_id = public_id(Entity.EVENT, event.seq)
    project_id = public_id(Entity.PROJECT, project.seq)
    user_id = public_id(Entity.USER, owner.seq)
    assert (await client.get(f"/events/{event_id}", headers=headers)).json()["id"] == event_id
    assert (await client.get(f"/projects/{project_id}", headers=headers)).json()["id"] == project_id
    assert (await client.get(f"/users/{user_id}", headers=headers)).json()["id"] == user_id


async def test_another_types_id_is_a_404(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event, project, owner = world["event"], world["project"], world["owner"]
    assert isinstance(event, Event) and isinstance(project, Project) and isinstance(owner, User)
    headers = auth_headers(owner)
    # Same seq numbers, other entity types: typed by construction, never by luck.
    for seq in (event.seq, project.seq, owner.seq):
        for path, wrong in (
            ("/events/{}", Entity.PROJECT),
            ("/events/{}", Entity.USER),
            ("/projects/{}", Entity.EVENT),
            ("/projects/{}", Entity.VOTE),
            ("/users/{}", Entity.EVENT),
            ("/users/{}", Entity.REFERRAL),
        ):
            response = await client.get(path.format(public_id(wrong, seq)), headers=headers)
            assert response.status_code == 404, (path, wrong)
            assert response.json()["error"]["code"] == "not_found"


async def test_aliases_and_garbage_are_404_never_500(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event, project = world["event"], world["project"]
    assert isinstance(event, Event) and isinstance(project, Project)
    headers = auth_headers(world["owner"])  # type: ignore[arg-type]
    for path, entity, seq in (
        ("/events/{}", Entity.EVENT, event.seq),
        ("/projects/{}", Entity.PROJECT, project.seq),
    ):
        valid = public_id(entity, seq)
        for alias in [*aliases(valid), "0", "x" * 10_000, "%00", "é" * 20, "rec123"]:
            if alias == valid:
                continue
            response = await client.get(path.format(alias), headers=headers)
            assert response.status_code == 404, alias
            assert response.json()["error"]["code"] == "not_found"


async def test_legacy_id_in_a_path_redirects_to_the_short_id(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event = world["event"]
    assert isinstance(event, Event)
    short = public_id(Entity.EVENT, event.seq)
    response = await client.get(f"/events/{REC['event']}/projects?leaderboard=true")
    assert response.status_code == 308
    assert response.headers["location"] == f"/events/{short}/projects?leaderboard=true"
    assert "max-age=" in response.headers["cache-control"]


async def test_legacy_id_redirects_write_routes_keeping_method_and_query(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    project = world["project"]
    assert isinstance(project, Project)
    headers = auth_headers(world["owner"])  # type: ignore[arg-type]
    short = public_id(Entity.PROJECT, project.seq)
    body = {
        "name": "New",
        "repo": "https://github.com/x/y",
        "image_url": "https://img.example/p.png",
        "demo": "https://x.io",
        "hours_spent": 3,
    }
    put = await client.put(f"/projects/{REC['project']}?from=v1", json=body, headers=headers)
    assert put.status_code == 308
    assert put.headers["location"] == f"/projects/{short}?from=v1"
    delete = await client.delete(f"/projects/{REC['project']}", headers=headers)
    assert delete.status_code == 308
    assert delete.headers["location"] == f"/projects/{short}"
    # 308 keeps the method: following it performs the write on the same row.
    followed = await client.put(put.headers["location"], json=body, headers=headers)
    assert followed.status_code == 200, followed.text
    assert followed.json()["name"] == "New"


async def test_unknown_legacy_id_is_a_404(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    for path in (
        "/events/recZZZZZZZZZZZZZZ",
        "/projects/recZZZZZZZZZZZZZZ",
        "/legacy/recZZZZZZZZZZZZZZ",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


async def test_legacy_endpoint_resolves_every_entity(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event, project, owner = world["event"], world["project"], world["owner"]
    assert isinstance(event, Event) and isinstance(project, Project) and isinstance(owner, User)
    expected = {
        "user": f"/users/{public_id(Entity.USER, owner.seq)}",
        "event": f"/events/{public_id(Entity.EVENT, event.seq)}",
        "project": f"/projects/{public_id(Entity.PROJECT, project.seq)}",
        # A vote has no page of its own: its project's; a referral: its event's.
        "vote": f"/projects/{public_id(Entity.PROJECT, project.seq)}",
        "referral": f"/events/{public_id(Entity.EVENT, event.seq)}",
    }
    for kind, record_id in REC.items():
        response = await client.get(f"/legacy/{record_id}")
        assert response.status_code == 308, kind
        assert response.headers["location"] == expected[kind], kind


async def test_malformed_legacy_ids_are_404(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    for bad in (
        "rec",
        "recUser000000000",
        "recUser00000000011",
        "RECUSER0000000001",
        "rec_ser0000000001",
    ):
        assert (await client.get(f"/legacy/{bad}")).status_code == 404, bad


async def test_legacy_id_in_a_body_is_a_422_naming_the_legacy_route(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    voter = world["voter"]
    assert isinstance(voter, User)
    response = await client.post(
        "/events/vote",
        json={"event": REC["event"], "projects": [REC["project"]]},
        headers=auth_headers(voter),
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert f"/legacy/{REC['event']}" in str(body)


async def test_responses_never_contain_uuids(
    client: httpx.AsyncClient, world: dict[str, object]
) -> None:
    event, project, owner = world["event"], world["project"], world["owner"]
    assert isinstance(event, Event) and isinstance(project, Project) and isinstance(owner, User)
    headers = auth_headers(owner)
    bodies = [
        (await client.get(f"/events/{public_id(Entity.EVENT, event.seq)}", headers=headers)).text,
        (
            await client.get(f"/projects/{public_id(Entity.PROJECT, project.seq)}", headers=headers)
        ).text,
        (await client.get("/users/current", headers=headers)).text,
        (await client.get("/events/", headers=headers)).text,
    ]
    for uuid_value in (event.pk, project.pk, owner.pk):
        assert all(str(uuid_value) not in body and uuid_value.hex not in body for body in bodies)
