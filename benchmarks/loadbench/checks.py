"""After the load: the voting rules checked in SQL, and the API's points against the votes."""

from __future__ import annotations

import itertools

import asyncpg
import orjson

from loadbench.http import HttpPool
from loadbench.seed import SeededEvent
from loadbench.workload import Workload
from podium.ids import Entity
from podium.public_ids import public_id

# Each query counts rows that break a rule; every count must be zero.
RULES = {
    "voter above max_votes_per_user": """
        SELECT count(*) FROM (
            SELECT v.event_id, v.voter_id, count(*) AS votes
            FROM votes v GROUP BY v.event_id, v.voter_id
        ) cast_votes
        JOIN (SELECT event_id, count(*) AS projects FROM projects GROUP BY event_id) sizes
          USING (event_id)
        WHERE votes > CASE WHEN projects >= 20 THEN 3 WHEN projects >= 4 THEN 2 ELSE 1 END
    """,
    "duplicate vote (voter, project)": """
        SELECT count(*) FROM (
            SELECT 1 FROM votes GROUP BY voter_id, project_id HAVING count(*) > 1
        ) duplicates
    """,
    "vote for own project": """
        SELECT count(*) FROM votes v JOIN projects p ON p.id = v.project_id
        WHERE p.owner_id = v.voter_id
           OR EXISTS (SELECT 1 FROM project_collaborators c
                      WHERE c.project_id = p.id AND c.user_id = v.voter_id)
    """,
    "vote by a non-attendee": """
        SELECT count(*) FROM votes v
        WHERE NOT EXISTS (SELECT 1 FROM event_attendees a
                          WHERE a.event_id = v.event_id AND a.user_id = v.voter_id)
    """,
    "vote in another event than its project's": """
        SELECT count(*) FROM votes v JOIN projects p ON p.id = v.project_id
        WHERE p.event_id <> v.event_id
    """,
}


async def rule_violations(conn: asyncpg.Connection) -> dict[str, int]:
    return {name: int(await conn.fetchval(sql)) for name, sql in RULES.items()}


async def burst_outcome(
    conn: asyncpg.Connection, event: SeededEvent, voters: list[str]
) -> dict[str, int]:
    """How many of the burst's voters ended with exactly the limit of votes, fewer, or more."""
    rows = await conn.fetch(
        """
        SELECT u.email, count(v.id) AS votes
        FROM users u LEFT JOIN votes v ON v.voter_id = u.id AND v.event_id = $1
        WHERE u.email = ANY($2::text[])
        GROUP BY u.email
        """,
        event.id,
        voters,
    )
    limit = 3 if len(event.project_seqs) >= 20 else 2 if len(event.project_seqs) >= 4 else 1
    outcome = {"voters": len(voters), "with_all_votes": 0, "missing_votes": 0, "over_limit": 0}
    for row in rows:
        if row["votes"] == limit:
            outcome["with_all_votes"] += 1
        elif row["votes"] < limit:
            outcome["missing_votes"] += 1
        else:
            outcome["over_limit"] += 1
    outcome["votes_in_burst"] = sum(row["votes"] for row in rows)
    return outcome


async def points_mismatches(
    conn: asyncpg.Connection, pool: HttpPool, workload: Workload, event: SeededEvent
) -> dict[str, int]:
    """Compare the owner's leaderboard (points, order) with a count of the votes in SQL."""
    path = f"/events/admin/{workload.event_id(event)}/leaderboard"
    response = await pool.send(pool.build("GET", path, workload.auth(event.owner_email)), 30.0)
    if response.status != 200:
        return {"leaderboard_status": response.status}
    listed = orjson.loads(response.body)
    counted = {
        public_id(Entity.PROJECT, row["seq"]): row["votes"]
        for row in await conn.fetch(
            """
            SELECT p.seq, count(v.id) AS votes FROM projects p
            LEFT JOIN votes v ON v.project_id = p.id
            WHERE p.event_id = $1 GROUP BY p.seq
            """,
            event.id,
        )
    }
    points = [project["points"] for project in listed]
    return {
        "projects_listed": len(listed),
        "projects_in_sql": len(counted),
        "points_not_equal_to_vote_count": sum(
            1 for project in listed if counted.get(project["id"]) != project["points"]
        ),
        "out_of_order": sum(1 for a, b in itertools.pairwise(points) if a < b),
    }
