"""Anonymous visitors read what v1 and today's Podium show to anyone: the event page, its
project list and enabled leaderboard, a project page, a slug lookup and a public user; no
private field or value is ever in those answers."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

from podium.models import ProjectCollaborator, User, Vote
from podium.schemas.common import UserPublic
from podium.schemas.events import EventIdOfSlug, EventPublic
from podium.schemas.projects import ProjectPublic
from tests.api.conftest import attend, eid, make_event, make_project, pid, uid
from tests.conftest import MakeUser

PRIVATE = {
    "join_code", "email", "owner_email", "phone", "street_1", "street_2", "city", "state",
    "zip_code", "country", "dob", "first_name", "last_name", "cached_auto_quality",
    "attendee_count", "max_votes_per_user",
}  # fmt: skip


def assert_exactly(schema: type[BaseModel], value: Any) -> None:
    """`value` has the schema's fields, no more: nothing private rides along."""
    assert isinstance(value, dict)
    assert set(value) == set(schema.model_fields), set(value) ^ set(schema.model_fields)
    assert not PRIVATE & set(value)
    schema.model_validate(value)


async def arrange(make_user: MakeUser, *, leaderboard_enabled: bool) -> dict[str, Any]:
    owner = await make_user(phone="+1 555 0100", street_1="1 Secret Road", city="Hidden")
    ada, grace = await make_user(), await make_user()
    event = await make_event(owner, leaderboard_enabled=leaderboard_enabled)
    await attend(event, ada, grace)
    rover = await make_project(ada, event, "Rover", cached_auto_quality={"score": 9})
    await ProjectCollaborator.objects.create(project=rover, user=grace)
    lamp = await make_project(grace, event, "Lamp")
    await Vote.objects.create(voter=grace, project=rover, event=event)
    secrets = [owner.email, ada.email, grace.email, event.join_code, rover.join_code,
               lamp.join_code, "+1 555 0100", "1 Secret Road"]  # fmt: skip
    return {"event": event, "owner": owner, "rover": rover, "secrets": secrets}


async def read_anonymously(client: httpx.AsyncClient, url: str, secrets: list[str]) -> Any:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.text)
    for secret in secrets:
        assert secret not in response.text, f"{url} shows {secret!r}"
    return response.json()


async def test_every_public_page_answers_anonymously_with_no_private_data(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    world = await arrange(make_user, leaderboard_enabled=True)
    event, owner, rover, secrets = world["event"], world["owner"], world["rover"], world["secrets"]

    assert_exactly(EventPublic, await read_anonymously(client, f"/events/{eid(event)}", secrets))
    assert_exactly(
        EventIdOfSlug, await read_anonymously(client, f"/events/id/{event.slug}", secrets)
    )
    assert_exactly(UserPublic, await read_anonymously(client, f"/users/{uid(owner)}", secrets))
    project = await read_anonymously(client, f"/projects/{pid(rover)}", secrets)
    assert_exactly(ProjectPublic, project)
    assert project["points"] == 1
    for query in ("", "?leaderboard=true"):
        listed = await read_anonymously(client, f"/events/{eid(event)}/projects{query}", secrets)
        assert len(listed) == 2
        for item in listed:
            assert_exactly(ProjectPublic, item)
            for person in (item["owner"], *item["collaborators"]):
                assert_exactly(UserPublic, person)
    ranked = await read_anonymously(client, f"/events/{eid(event)}/projects?leaderboard=true", [])
    assert [(p["name"], p["points"]) for p in ranked] == [("Rover", 1), ("Lamp", 0)]


async def test_points_stay_hidden_while_the_leaderboard_is_off(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    world = await arrange(make_user, leaderboard_enabled=False)
    event, rover, secrets = world["event"], world["rover"], world["secrets"]

    listed = await read_anonymously(client, f"/events/{eid(event)}/projects", secrets)
    assert [p["points"] for p in listed] == [None, None]
    project = await read_anonymously(client, f"/projects/{pid(rover)}", secrets)
    assert project["points"] is None
    ranked = await client.get(f"/events/{eid(event)}/projects?leaderboard=true")
    assert ranked.status_code == 403
    assert ranked.json()["error"]["code"] == "leaderboard_disabled"


async def test_a_display_name_change_shows_on_the_public_list(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    world = await arrange(make_user, leaderboard_enabled=True)
    ada = world["rover"].owner
    await User.objects.filter(id=ada.pk).update(display_name="Ada Lovelace")
    listed = await read_anonymously(client, f"/events/{eid(world['event'])}/projects", [])
    assert "Ada Lovelace" in {p["owner"]["display_name"] for p in listed}
