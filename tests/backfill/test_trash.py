"""A re-run of the backfill leaves trashed rows in the trash (Airtable still holds their
records); verify counts them as accounted for, not missing."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from podium.backfill.verify import verify
from podium.db import Database
from podium.models import Event, Project, User
from podium.queries import rows
from podium.queries import trash as trash_rows
from podium.services import trash
from podium_devtools.airtable_base import GeneratedBase
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, scalar, source_for

pytestmark = pytest.mark.db


async def _trash_an_event_and_a_project(database: str) -> tuple[Event, Project]:
    """The migrated event with the most projects, and a project of another event."""
    conn = await asyncpg.connect(database)
    try:
        event_id = await conn.fetchval(
            "SELECT event_id FROM projects GROUP BY event_id ORDER BY count(*) DESC LIMIT 1"
        )
        project_id = await conn.fetchval(
            "SELECT p.id FROM projects p WHERE p.event_id <> $1"
            " AND EXISTS (SELECT 1 FROM votes v WHERE v.project_id = p.id) LIMIT 1",
            event_id,
        )
    finally:
        await conn.close()
    db = Database(database, size=1)
    await db.open()
    try:
        async with db.transaction() as tx:
            event = await rows.one_by(tx, Event, "id", event_id)
            project = await rows.one_by(tx, Project, "id", project_id)
            assert event is not None and project is not None
            owner = await rows.one_by(tx, User, "id", event.owner.pk)
            project_owner = await rows.one_by(tx, User, "id", project.owner.pk)
            assert owner is not None and project_owner is not None
            await trash.trash_event(tx, event, owner, timedelta(days=30))
            await trash_rows.lock_values_exclusive(tx)
            await trash.trash_project(tx, project, project_owner, timedelta(days=30), event_seq=0)
    finally:
        await db.close()
    return event, project


async def test_rerun_leaves_trashed_rows_in_the_trash_and_verify_accounts_for_them(
    clean_base: GeneratedBase, database: str
) -> None:
    with FakeAirtable(clean_base.tables, rate_limit=None) as fake:
        await backfill(fake, database).run()
        event, project = await _trash_an_event_and_a_project(database)
        trashed_projects = await scalar(
            database,
            "SELECT jsonb_array_length(rows->'projects') FROM trash WHERE kind = 'event'",
        )
        trashed_votes = await scalar(
            database,
            "SELECT sum(jsonb_array_length(rows->'votes')) FROM trash",
        )

        again = await backfill(fake, database).run()
        check = await verify(source_for(fake), database)

    assert again.counts["events"]["trashed"] == 1
    assert again.counts["events"]["inserted"] == 0
    assert again.counts["projects"]["trashed"] == trashed_projects + 1
    assert again.counts["projects"]["inserted"] == 0
    assert again.counts["votes"]["trashed"] == trashed_votes
    assert again.counts["votes"]["inserted"] == 0
    assert await scalar(database, "SELECT count(*) FROM events WHERE id = $1", event.pk) == 0
    assert await scalar(database, "SELECT count(*) FROM projects WHERE id = $1", project.pk) == 0
    assert check.ok, [c.as_json() for c in check.tables if not c.ok]
    checks = {c.table: c for c in check.tables}
    assert checks["events"].trashed == 1
    assert checks["projects"].trashed == trashed_projects + 1
