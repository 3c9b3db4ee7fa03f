"""Believable demo data for `podium dev`, seeded once per database."""

from __future__ import annotations

import random
from datetime import timedelta

from podium.config import Settings
from podium.db import ormar_database
from podium.ids import Entity
from podium.models import (
    Event,
    EventAttendee,
    Project,
    ProjectCollaborator,
    Referral,
    User,
    Vote,
)
from podium.models.phase import Phase
from podium.public_ids import configure_codec, public_id
from podium.security import TokenType, create_token
from podium.services.access import max_votes_per_user

DEMO_EMAIL = "ada@demo.podium.dev"
DEMO_JOIN_CODE = "HACK26"
# v1 record ids on a few rows, as a migrated database has them, so legacy links can be tried.
DEMO_AIRTABLE_IDS = {
    "organiser": "recDemoOrganiser1",
    "event": "recDemoHackathon1",
    "project": "recDemoCompostCam",
}

_PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Linus", "Torvalds"),
    ("Margaret", "Hamilton"),
    ("Dennis", "Ritchie"),
    ("Barbara", "Liskov"),
    ("Ken", "Thompson"),
    ("Radia", "Perlman"),
    ("Tim", "Berners-Lee"),
    ("Frances", "Allen"),
    ("Edsger", "Dijkstra"),
    ("Hedy", "Lamarr"),
]
_PROJECTS = [
    ("Compost Cam", "A camera that tells you when the compost is ready"),
    ("Bus Buddy", "Live bus arrivals on an e-ink badge"),
    ("Plant Pal", "Soil sensors that text you when your plants are thirsty"),
    ("Chore Wheel", "Fair chore rotation for shared houses"),
    ("Synth Sketch", "Draw a waveform, hear it play"),
    ("Trail Mix", "Offline hiking maps with elevation profiles"),
    ("Quiet Hours", "A library noise meter with a friendly face"),
    ("Recipe Roulette", "Dinner ideas from whatever is in the fridge"),
]


def _display_name(first: str, last: str) -> str:
    return f"{first} {last[:1]}."


async def _seed() -> None:
    rng = random.Random(2026)
    users = [
        await User.objects.create(
            email=f"{first.lower()}@demo.podium.dev",
            first_name=first,
            last_name=last,
            display_name=_display_name(first, last),
            airtable_id=DEMO_AIRTABLE_IDS["organiser"] if index == 0 else None,
        )
        for index, (first, last) in enumerate(_PEOPLE)
    ]
    organiser, attendees = users[0], users[1:]
    event = await Event.objects.create(
        name="Demo Hackathon 2026",
        slug="demo-hackathon-2026",
        description="A weekend of building things; vote for your favourites on Sunday.",
        join_code=DEMO_JOIN_CODE,
        owner=organiser,
        phase=Phase.VOTING.value,
        live_leaderboard=True,
        feature_flags=["demo"],
        airtable_id=DEMO_AIRTABLE_IDS["event"],
    )
    await Event.objects.create(
        name="Spring Jam (draft)",
        slug="spring-jam",
        description="Not published yet: only its organiser sees it.",
        join_code="SPRING",
        owner=organiser,
        phase=Phase.DRAFT.value,
    )
    for user in users:
        await EventAttendee.objects.create(event=event, user=user)
    projects = []
    for index, (name, description) in enumerate(_PROJECTS):
        owner = attendees[index]
        projects.append(
            await Project.objects.create(
                name=name,
                description=description,
                repo=f"https://github.com/demo/{name.lower().replace(' ', '-')}",
                demo=f"https://demo.podium.dev/{name.lower().replace(' ', '-')}",
                image_url="",
                hours_spent=rng.randint(6, 40),
                join_code=f"PRJ{index:03d}",
                owner=owner,
                event=event,
                airtable_id=DEMO_AIRTABLE_IDS["project"] if index == 0 else None,
            )
        )
    for project in projects[:4]:
        await ProjectCollaborator.objects.create(
            project=project, user=attendees[-1 - projects.index(project)]
        )
    limit = max_votes_per_user(len(projects))
    own = {p.pk: {p.owner.pk} for p in projects}
    for project in projects[:4]:
        own[project.pk].add(attendees[-1 - projects.index(project)].pk)
    for voter in users:
        choices = [p for p in projects if voter.pk not in own[p.pk]]
        for project in rng.sample(choices, k=limit):
            await Vote.objects.create(voter=voter, project=project, event=event)
    for user in attendees[:5]:
        await Referral.objects.create(
            content=rng.choice(["a friend", "Slack", "a poster"]), user=user, event=event
        )


async def seed_once(settings: Settings, base_url: str) -> str:
    """Seed the demo data unless it is there already; return how to log in and what to try."""
    assert settings.database_url is not None
    configure_codec(settings.id_key_value)
    await ormar_database.connect_to(settings.database_url)
    try:
        demo_user = await User.objects.get_or_none(email=DEMO_EMAIL)
        if demo_user is None:
            async with ormar_database.transaction():
                await _seed()
            demo_user = await User.objects.get(email=DEMO_EMAIL)
        event = await Event.objects.get(join_code=DEMO_JOIN_CODE)
    finally:
        await ormar_database.disconnect()
    token = create_token(DEMO_EMAIL, TokenType.ACCESS, settings.jwt_secret_value, timedelta(days=2))
    return (
        f"  Demo organiser: {DEMO_EMAIL} (owns event {public_id(Entity.EVENT, event.seq)}, "
        f"join code {DEMO_JOIN_CODE})\n"
        f'  Log in: POST /request-login {{"email": "{DEMO_EMAIL}"}} prints a login link here,\n'
        f"  or use this access token (valid for 2 days; the development secret is kept in\n"
        f"  {settings.state_dir}/):\n"
        f"    Authorization: Bearer {token}\n"
        f"  A v1 (Airtable) link redirects to its short ID: "
        f"{base_url}/legacy/{DEMO_AIRTABLE_IDS['event']}"
    )
