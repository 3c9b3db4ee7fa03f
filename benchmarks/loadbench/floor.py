"""Database floors: one raw asyncpg query plus orjson, no ORM, no pydantic, no public IDs.

`leaderboard`: an event's leaderboard. `event`: the event page (one indexed row); what any
implementation that reads the database per request pays at least, so the event page's own
ceiling on this machine.

It returns what the API's leaderboard returns (every project with its owner, collaborators and
points, by points descending, ties by submission) but with raw `seq` numbers instead of public
IDs and without pydantic: the least any implementation has to pay for that page.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

LEADERBOARD_SQL = """
WITH event AS (SELECT id FROM events WHERE seq = $1),
points AS (
    SELECT project_id, count(*) AS points
    FROM votes WHERE event_id = (SELECT id FROM event)
    GROUP BY project_id
),
members AS (
    SELECT c.project_id,
           json_agg(json_build_object('seq', u.seq, 'display_name', u.display_name)
                    ORDER BY c.created_at, c.seq) AS members
    FROM project_collaborators c
    JOIN projects p ON p.id = c.project_id
    JOIN users u ON u.id = c.user_id
    WHERE p.event_id = (SELECT id FROM event)
    GROUP BY c.project_id
)
SELECT p.seq, p.name, p.repo, p.image_url, p.demo, p.description, p.hours_spent,
       o.seq AS owner_seq, o.display_name AS owner_display_name,
       coalesce(m.members, '[]') AS collaborators, coalesce(v.points, 0) AS points
FROM projects p
JOIN users o ON o.id = p.owner_id
LEFT JOIN points v ON v.project_id = p.id
LEFT JOIN members m ON m.project_id = p.id
WHERE p.event_id = (SELECT id FROM event)
ORDER BY points DESC, p.created_at, p.seq
"""


def serialise(event_seq: int, rows: list[asyncpg.Record]) -> bytes:
    return orjson.dumps(
        [
            {
                "id": row["seq"],
                "name": row["name"],
                "repo": row["repo"],
                "image_url": row["image_url"],
                "demo": row["demo"],
                "description": row["description"],
                "hours_spent": row["hours_spent"],
                "event_id": event_seq,
                "owner": {"id": row["owner_seq"], "display_name": row["owner_display_name"]},
                # Already JSON from PostgreSQL: embedded as is.
                "collaborators": orjson.Fragment(row["collaborators"]),
                "points": row["points"],
            }
            for row in rows
        ]
    )


async def leaderboard(conn: asyncpg.Connection | asyncpg.Pool[Any], event_seq: int) -> bytes:
    return serialise(event_seq, await conn.fetch(LEADERBOARD_SQL, event_seq))


EVENT_SQL = """
SELECT e.seq, e.name, e.slug, e.description, e.phase, e.live_leaderboard,
       e.submissions_open_during_voting, e.phase = 'voting' AS votable,
       e.live_leaderboard OR e.phase = 'closed' AS leaderboard_enabled, e.demo_links_optional, e.ysws_checks_enabled, e.feature_flags, o.seq AS owner_seq
FROM events e JOIN users o ON o.id = e.owner_id
WHERE e.seq = $1
"""


async def event(conn: asyncpg.Connection | asyncpg.Pool[Any], event_seq: int) -> bytes | None:
    row = await conn.fetchrow(EVENT_SQL, event_seq)
    if row is None:
        return None
    return orjson.dumps(
        {
            "id": row["seq"],
            "name": row["name"],
            "slug": row["slug"],
            "description": row["description"],
            "phase": row["phase"],
            "live_leaderboard": row["live_leaderboard"],
            "submissions_open_during_voting": row["submissions_open_during_voting"],
            "votable": row["votable"],
            "leaderboard_enabled": row["leaderboard_enabled"],
            "demo_links_optional": row["demo_links_optional"],
            "ysws_checks_enabled": row["ysws_checks_enabled"],
            # jsonb arrives as text on the floor's pool (no codec): embedded as is.
            "feature_flags": orjson.Fragment(row["feature_flags"]),
            "owner_id": row["owner_seq"],
        }
    )
