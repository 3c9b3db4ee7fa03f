"""ETags and 304s: a tag changes whenever what the response shows changes, and only then."""

from __future__ import annotations

import re

import httpx

from podium.models import ProjectCollaborator, User, Vote
from tests.api.conftest import attend, eid, make_event, make_project, pid
from tests.conftest import MakeUser, auth_headers

WEAK_TAG = re.compile(r'^W/"[0-9a-f]{32}"$')


async def tag_of(client: httpx.AsyncClient, url: str, **headers: str) -> str:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert WEAK_TAG.match(etag), etag
    return etag


async def assert_fresh(client: httpx.AsyncClient, url: str, etag: str, **headers: str) -> None:
    response = await client.get(url, headers={"If-None-Match": etag, **headers})
    assert response.status_code == 304, response.text
    assert response.content == b""
    assert response.headers["etag"] == etag


async def test_each_page_and_list_answers_304_for_its_current_tag(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner, leaderboard_enabled=True)
    await attend(event, owner)
    project = await make_project(owner, event)
    admin = auth_headers(owner)
    for url, headers in [
        (f"/events/{eid(event)}", {}),
        (f"/projects/{pid(project)}", {}),
        (f"/events/{eid(event)}/projects", {}),
        (f"/events/{eid(event)}/projects?leaderboard=true", {}),
        (f"/events/admin/{eid(event)}/leaderboard", admin),
    ]:
        etag = await tag_of(client, url, **headers)
        await assert_fresh(client, url, etag, **headers)
        # A list of tags, a strong form of the same tag and `*` all match (weak comparison).
        for header in (f'"x", {etag}', etag.removeprefix("W/"), "*"):
            response = await client.get(url, headers={"If-None-Match": header, **headers})
            assert response.status_code == 304, (url, header)
        stale = await client.get(url, headers={"If-None-Match": 'W/"0000"', **headers})
        assert stale.status_code == 200


async def test_the_list_tag_follows_every_change_it_shows(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, ada, grace = await make_user(), await make_user(), await make_user()
    event = await make_event(owner, leaderboard_enabled=True)
    await attend(event, ada, grace)
    rover = await make_project(ada, event, "Rover")
    url = f"/events/{eid(event)}/projects?leaderboard=true"
    seen = {await tag_of(client, url)}

    async def changed() -> None:
        etag = await tag_of(client, url)
        assert etag not in seen, "the tag did not change"
        seen.add(etag)

    await Vote.objects.create(voter=grace, project=rover, event=event)
    await changed()
    await rover.update(name="Rover 2")
    await changed()
    await ProjectCollaborator.objects.create(project=rover, user=grace)
    await changed()
    await User.objects.filter(id=grace.pk).update(display_name="Grace H.")
    await changed()
    lamp = await make_project(grace, event, "Lamp")
    await changed()
    await lamp.delete()
    await changed()
    await client.put(
        f"/events/{eid(event)}", json={"leaderboard_enabled": False}, headers=auth_headers(owner)
    )
    await tag_of(client, f"/events/{eid(event)}/projects")
    # Nothing the list shows changed: same tag.
    assert await tag_of(client, f"/events/{eid(event)}/projects") == await tag_of(
        client, f"/events/{eid(event)}/projects"
    )


async def test_a_hidden_leaderboard_tag_ignores_votes_but_the_owner_s_does_not(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, ada, grace = await make_user(), await make_user(), await make_user()
    event = await make_event(owner)  # leaderboard off: points are hidden
    await attend(event, ada, grace)
    rover = await make_project(ada, event, "Rover")
    public_url = f"/events/{eid(event)}/projects"
    admin_url = f"/events/admin/{eid(event)}/leaderboard"
    public_before = await tag_of(client, public_url)
    admin_before = await tag_of(client, admin_url, **auth_headers(owner))

    await Vote.objects.create(voter=grace, project=rover, event=event)

    # A moving tag would tell anyone when votes arrive, the thing the organiser hides.
    assert await tag_of(client, public_url) == public_before
    assert await tag_of(client, admin_url, **auth_headers(owner)) != admin_before


async def test_single_pages_change_tag_with_their_content(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, ada = await make_user(), await make_user()
    event = await make_event(owner)
    await attend(event, owner, ada)
    project = await make_project(owner, event)
    event_url, project_url = f"/events/{eid(event)}", f"/projects/{pid(project)}"
    event_tag, project_tag = await tag_of(client, event_url), await tag_of(client, project_url)

    await client.put(event_url, json={"description": "new"}, headers=auth_headers(owner))
    await ProjectCollaborator.objects.create(project=project, user=ada)

    assert await tag_of(client, event_url) != event_tag
    assert await tag_of(client, project_url) != project_tag


async def test_tags_are_the_same_for_everyone_and_reveal_nothing(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    first, second = await make_event(owner), await make_event(owner)
    url = f"/events/{eid(first)}/projects"
    anonymous = await tag_of(client, url)
    assert await tag_of(client, url, **auth_headers(owner)) == anonymous
    # Two events in the same state (no change yet) still get unrelated tags: keyed digests.
    assert await tag_of(client, f"/events/{eid(second)}/projects") != anonymous


async def test_private_and_public_cache_rules(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    public = await client.get(f"/events/{eid(event)}/projects")
    admin = await client.get(f"/events/admin/{eid(event)}/leaderboard", headers=auth_headers(owner))
    assert public.headers["cache-control"] == "no-cache"
    assert admin.headers["cache-control"] == "private, no-cache"
