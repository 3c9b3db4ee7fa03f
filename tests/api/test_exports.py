"""GET /events/admin/{event_id}/export/*.csv: the owner's CSV exports, read cell by cell."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from podium.models import Event, Project, ProjectCollaborator, Referral, User
from podium.services import exports
from tests.api.conftest import assert_error, attend, eid, make_event, make_project, pid, uid
from tests.conftest import MakeUser, auth_headers

PROJECT_COLUMNS = [
    "rank", "points", "project_id", "name", "description", "repo", "demo", "image_url",
    "hours_spent", "submitted_at", "owner_id", "owner_display_name", "owner_first_name",
    "owner_last_name", "owner_email", "owner_phone", "owner_street_1", "owner_street_2",
    "owner_city", "owner_state", "owner_zip_code", "owner_country", "collaborator_ids",
    "collaborator_names", "collaborator_emails", "collaborator_phones", "link_check_status",
    "link_check_reasons", "link_checked_at",
]  # fmt: skip


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    text = response.content.decode("utf-8-sig")
    assert text.endswith("\r\n")  # RFC 4180 line ends (a newline inside a quoted cell stays)
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def vote(db: asyncpg.Pool, event: Event, voter: User, *projects: Project) -> None:
    for project in projects:
        await db.execute(
            "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
            voter.pk,
            project.pk,
            event.pk,
        )


async def test_projects_csv_has_every_cell_with_rank_points_and_contacts(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    ada = await make_user(
        email="ada@example.com", first_name="Ada", last_name="Lovelace", display_name="Ada L.",
        phone="+44 20 7946 0000", street_1="12 St James's Square", city="London",
        zip_code="SW1Y 4JH", country="United Kingdom",
    )  # fmt: skip
    zoe = await make_user(email="zoe@example.com", first_name="Zoë", display_name="渡辺 Zoë")
    grace = await make_user(email="grace@example.com", phone="555-0100")
    voters = [await make_user() for _ in range(3)]
    event = await make_event(owner, votable=True)
    await attend(event, ada, zoe, grace, *voters)
    rover = await make_project(
        ada, event, "Rover", description='Says "hi", then\nleaves', repo="https://g.it/a/rover",
        demo="https://rover.example", image_url="https://img.example/r.png", hours_spent=12,
    )  # fmt: skip
    lamp = await make_project(zoe, event, "Lamp")
    await make_project(grace, event, "Quiet")
    await ProjectCollaborator.objects.create(project=rover, user=zoe)
    await ProjectCollaborator.objects.create(project=rover, user=grace)
    await vote(db, event, voters[0], rover, lamp)
    await vote(db, event, voters[1], rover, lamp)
    await vote(db, event, voters[2], rover)
    await db.execute(
        "INSERT INTO link_checks (project_id, status, reasons, checked_at) VALUES ($1, 'invalid', "
        "$2::jsonb, '2026-12-01T10:00:00Z') ON CONFLICT (project_id) DO UPDATE SET "
        "status = excluded.status, reasons = excluded.reasons, checked_at = excluded.checked_at",
        rover.pk,
        '[{"link": "repo", "code": "repo_not_found", "severity": "invalid", '
        '"message": "The repository does not exist"}, {"link": "demo", "code": "timeout", '
        '"severity": "warning", "message": "No answer within 10 s"}]',
    )

    response = await client.get(
        f"/events/admin/{eid(event)}/export/projects.csv", headers=auth_headers(owner)
    )

    rows = read_csv(response)
    assert list(rows[0]) == PROJECT_COLUMNS
    assert list(exports.COLUMNS["projects"]) == PROJECT_COLUMNS
    assert [(r["rank"], r["points"], r["name"]) for r in rows] == [
        ("1", "3", "Rover"),
        ("2", "2", "Lamp"),
        ("3", "0", "Quiet"),
    ]
    first = rows[0]
    assert first["project_id"] == pid(rover)
    assert first["description"] == 'Says "hi", then\nleaves'
    assert (first["repo"], first["demo"], first["image_url"], first["hours_spent"]) == (
        "https://g.it/a/rover", "https://rover.example", "https://img.example/r.png", "12",
    )  # fmt: skip
    assert first["submitted_at"] == rover.created_at.isoformat()
    assert first["owner_id"] == uid(ada)
    assert [first[f"owner_{k}"] for k in ("display_name", "first_name", "last_name", "email")] == [
        "Ada L.", "Ada", "Lovelace", "ada@example.com",
    ]  # fmt: skip
    # A phone number starting with + is a formula to a spreadsheet: neutralised.
    assert first["owner_phone"] == "'+44 20 7946 0000"
    assert (first["owner_street_1"], first["owner_street_2"], first["owner_city"]) == (
        "12 St James's Square", "", "London",
    )  # fmt: skip
    assert (first["owner_zip_code"], first["owner_country"]) == ("SW1Y 4JH", "United Kingdom")
    # Collaborators in joining order, one cell per field.
    assert first["collaborator_ids"] == f"{uid(zoe)}; {uid(grace)}"
    assert first["collaborator_names"] == "渡辺 Zoë; " + grace.display_name
    assert first["collaborator_emails"] == "zoe@example.com; grace@example.com"
    assert first["collaborator_phones"] == "; 555-0100"
    assert rows[2]["collaborator_ids"] == rows[2]["collaborator_names"] == ""
    assert rows[0]["link_check_status"] == "invalid"
    assert rows[0]["link_check_reasons"] == (
        "repo: The repository does not exist; demo: No answer within 10 s"
    )
    assert rows[0]["link_checked_at"] == "2026-12-01T10:00:00+00:00"
    assert rows[1]["link_check_status"] == rows[1]["link_check_reasons"] == ""
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{event.slug}-projects-{today}.csv"'
    )
    assert response.headers["cache-control"] == "private, no-store"


INJECTIONS = [
    ("=HYPERLINK(\"http://evil.example\",\"prize\")", "'=HYPERLINK(\"http://evil.example\",\"prize\")"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("a=b", "a=b"),
    ("Plain 'quoted'", "Plain 'quoted'"),
]  # fmt: skip


@pytest.mark.parametrize(("stored", "shown"), INJECTIONS)
async def test_cells_a_spreadsheet_would_run_are_neutralised(
    client: httpx.AsyncClient, make_user: MakeUser, stored: str, shown: str
) -> None:
    owner, maker = await make_user(), await make_user(display_name=stored)
    event = await make_event(owner)
    await attend(event, maker)
    await make_project(maker, event, stored, description=stored, repo=stored)

    rows = read_csv(
        await client.get(
            f"/events/admin/{eid(event)}/export/projects.csv", headers=auth_headers(owner)
        )
    )

    assert [rows[0][k] for k in ("name", "description", "repo", "owner_display_name")] == [
        shown
    ] * 4


async def test_votes_attendees_and_referrals_csv(
    client: httpx.AsyncClient, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    ada = await make_user(email="ada@example.com", display_name="Ada", city="Paris", phone="@1")
    bob = await make_user(email="bob@example.com", display_name="Bob")
    event = await make_event(owner, votable=True)
    await attend(event, ada, bob)
    rover = await make_project(bob, event, "Rover")
    await vote(db, event, ada, rover)
    await Referral.objects.create(user=ada, event=event, content="=a friend")
    headers = auth_headers(owner)
    base = f"/events/admin/{eid(event)}/export"

    votes = read_csv(await client.get(base + "/votes.csv", headers=headers))
    attendees = read_csv(await client.get(base + "/attendees.csv", headers=headers))
    referrals = read_csv(await client.get(base + "/referrals.csv", headers=headers))

    assert [list(v.values())[2:] for v in votes] == [
        [uid(ada), "Ada", "ada@example.com", pid(rover), "Rover"]
    ]
    assert votes[0]["vote_id"].startswith("v_")
    assert list(votes[0]) == list(exports.COLUMNS["votes"])
    assert [(a["user_id"], a["email"], a["city"], a["phone"]) for a in attendees] == [
        (uid(ada), "ada@example.com", "Paris", "'@1"),
        (uid(bob), "bob@example.com", "", ""),
    ]
    assert list(attendees[0]) == ["user_id", "joined_at", *exports.CONTACT_COLUMNS]
    assert [(r["user_id"], r["email"], r["content"]) for r in referrals] == [
        (uid(ada), "ada@example.com", "'=a friend")
    ]
    assert referrals[0]["referral_id"].startswith("r_")


async def test_an_event_without_rows_exports_the_header_only(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner = await make_user()
    event = await make_event(owner)
    for which in exports.COLUMNS:
        response = await client.get(
            f"/events/admin/{eid(event)}/export/{which}.csv", headers=auth_headers(owner)
        )
        text = response.content.decode("utf-8-sig")
        assert text == ",".join(exports.COLUMNS[which]) + "\r\n"  # type: ignore[index]


@pytest.mark.parametrize("which", ["projects", "votes", "attendees", "referrals"])
@pytest.mark.parametrize(
    ("role", "status", "code"),
    [("anonymous", 401, "unauthorized"), ("attendee", 403, "forbidden"),
     ("outsider", 403, "forbidden")],
)  # fmt: skip
async def test_exports_are_for_the_owner_only(
    client: httpx.AsyncClient, make_user: MakeUser, which: str, role: str, status: int, code: str
) -> None:
    owner, attendee, outsider = await make_user(), await make_user(), await make_user()
    event = await make_event(owner)
    await attend(event, attendee)
    headers = {"attendee": auth_headers(attendee), "outsider": auth_headers(outsider)}
    response = await client.get(
        f"/events/admin/{eid(event)}/export/{which}.csv", headers=headers.get(role, {})
    )
    assert_error(response, status, code)
    assert "@example.com" not in response.text


async def test_export_of_an_unknown_event_is_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    response = await client.get(
        "/events/admin/e_AAAAAAA/export/projects.csv", headers=auth_headers(user)
    )
    assert response.status_code == 404


async def _collect(app: FastAPI, which: Any, event: Event, chunk_rows: int) -> list[list[str]]:
    body = b"".join(
        [
            chunk
            async for chunk in exports.stream(
                app.state.database, which, event.pk, chunk_rows=chunk_rows
            )
        ]
    )
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_chunks_neither_skip_nor_repeat_rows_across_ties(
    client: httpx.AsyncClient, app: FastAPI, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner = await make_user()
    makers = [await make_user() for _ in range(7)]
    voters = [await make_user() for _ in range(3)]
    event = await make_event(owner, votable=True)
    await attend(event, *makers, *voters)
    made = [await make_project(m, event, f"P{i}") for i, m in enumerate(makers)]
    # Points 3, 2, 2, 2, 0, 0, 0: ties across every chunk boundary of 2 rows.
    await vote(db, event, voters[0], made[0], made[1], made[2])
    await vote(db, event, voters[1], made[0], made[1], made[3])
    await vote(db, event, voters[2], made[0], made[2], made[3])

    whole = await _collect(app, "projects", event, chunk_rows=500)
    chunked = await _collect(app, "projects", event, chunk_rows=2)

    assert chunked == whole
    assert [(r[0], r[1]) for r in whole[1:]] == [
        ("1", "3"), ("2", "2"), ("2", "2"), ("2", "2"), ("5", "0"), ("5", "0"), ("5", "0"),
    ]  # fmt: skip
    assert sorted(r[2] for r in whole[1:]) == sorted(pid(p) for p in made)


async def test_an_export_reads_one_snapshot_while_votes_arrive(
    client: httpx.AsyncClient, app: FastAPI, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, voter = await make_user(), await make_user()
    makers = [await make_user() for _ in range(4)]
    event = await make_event(owner, votable=True)
    await attend(event, voter, *makers)
    made = [await make_project(m, event, f"P{i}") for i, m in enumerate(makers)]
    await vote(db, event, voter, made[0])

    stream = exports.stream(app.state.database, "projects", event.pk, chunk_rows=1)
    chunks = [await anext(stream)]
    # Committed while the export is between chunks: the export does not see it.
    await vote(db, event, voter, made[3])
    chunks += [chunk async for chunk in stream]

    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert [r[1] for r in rows[1:]] == ["1", "0", "0", "0"]
    assert len(rows) == 5


async def test_a_5000_project_export_is_streamed_in_chunks(
    client: httpx.AsyncClient, app: FastAPI, db: asyncpg.Pool, make_user: MakeUser
) -> None:
    owner, maker = await make_user(), await make_user()
    event = await make_event(owner)
    await db.execute(
        "INSERT INTO projects (name, join_code, owner_id, event_id) "
        "SELECT 'P' || n, 'J' || lpad(n::text, 6, '0') || 'X', $1, $2 FROM generate_series(1, 5000) n",
        maker.pk,
        event.pk,
    )
    # The service yields one piece per statement's rows: the file is never held whole
    # (httpx's ASGI transport gathers a body before returning it, so the pieces are counted here;
    # benchmarks/bench_export.py measures the memory over HTTP).
    pieces = [p async for p in exports.stream(app.state.database, "projects", event.pk)]
    assert len(pieces) == 5000 // exports.CHUNK_ROWS
    response = await client.get(
        f"/events/admin/{eid(event)}/export/projects.csv", headers=auth_headers(owner)
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert response.content == b"".join(pieces)
    assert len(rows) == 5001
    assert sorted(int(r[3][1:]) for r in rows[1:]) == list(range(1, 5001))


def test_safe_cell_leaves_numbers_and_plain_text() -> None:
    assert exports.safe_cell(-3) == -3
    assert exports.safe_cell("") == ""
    assert exports.safe_cell("x-1") == "x-1"
