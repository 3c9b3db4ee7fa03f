"""Helpers for the backfill tests: a source pointed at the fake, and a canonical dump."""

from __future__ import annotations

from typing import Any

import asyncpg

from podium.backfill.airtable import AirtableSource, RetryPolicy, SourceConfig
from podium.backfill.pipeline import Backfill, Options
from podium_devtools.fake_airtable import FakeAirtable

TABLES = ("users", "events", "projects", "votes", "referrals")


def source_for(fake: FakeAirtable, **overrides: Any) -> AirtableSource:
    """A source pointed at the fake, with test-sized waits (the real ones are 30 s and ~1 s)."""
    policy = RetryPolicy(rate_limit_wait=0.05, backoff=0.01, max_backoff=0.05)
    settings: dict[str, Any] = {
        "token": fake.token,
        "base_id": fake.base_id,
        "api_url": fake.url,
        "tables": {table: table for table in TABLES},
        "requests_per_second": 1000.0,
        "policy": policy,
    }
    settings.update(overrides)
    return AirtableSource(SourceConfig(**settings))


def backfill(fake: FakeAirtable, url: str, **options: Any) -> Backfill:
    return Backfill(source_for(fake), url, options=Options(**options))


async def dump(url: str) -> dict[str, Any]:
    """Every migrated row and link named by v1 record ids: no UUID, seq or timestamp we made."""
    conn = await asyncpg.connect(url)
    try:
        return {
            "users": await _rows(
                conn,
                "SELECT airtable_id, created_at, email, display_name, first_name, last_name, phone, "
                "street_1, street_2, city, state, zip_code, country, dob FROM users",
            ),
            "events": await _rows(
                conn,
                "SELECT e.airtable_id, e.created_at, e.name, e.slug, e.description, e.join_code, "
                "o.airtable_id AS owner, e.phase, e.live_leaderboard, e.submissions_open_during_voting, "
                "e.demo_links_optional, "
                "e.ysws_checks_enabled, e.feature_flags::text FROM events e "
                "JOIN users o ON o.id = e.owner_id",
            ),
            "event_attendees": await _pairs(
                conn, "event_attendees", "event_id", "events", "user_id", "users"
            ),
            "projects": await _rows(
                conn,
                "SELECT p.airtable_id, p.created_at, p.name, p.repo, p.image_url, p.demo, "
                "p.description, p.hours_spent, p.join_code, o.airtable_id AS owner, "
                "e.airtable_id AS event, p.cached_auto_quality::text FROM projects p "
                "JOIN users o ON o.id = p.owner_id JOIN events e ON e.id = p.event_id",
            ),
            "project_collaborators": await _pairs(
                conn, "project_collaborators", "project_id", "projects", "user_id", "users"
            ),
            "referrals": await _rows(
                conn,
                "SELECT r.airtable_id, r.created_at, r.content, u.airtable_id AS user, "
                "e.airtable_id AS event FROM referrals r JOIN users u ON u.id = r.user_id "
                "JOIN events e ON e.id = r.event_id",
            ),
            "votes": await _rows(
                conn,
                "SELECT v.airtable_id, v.created_at, u.airtable_id AS voter, "
                "p.airtable_id AS project, e.airtable_id AS event FROM votes v "
                "JOIN users u ON u.id = v.voter_id JOIN projects p ON p.id = v.project_id "
                "JOIN events e ON e.id = v.event_id",
            ),
            "quarantine": sorted(
                tuple(record.values())
                for record in await conn.fetch(
                    "SELECT source_table, record_id, rule, disposition, message, action, "
                    "related_record_id, details::text, record::text FROM backfill_quarantine"
                )
            ),
        }
    finally:
        await conn.close()


async def _rows(conn: asyncpg.Connection, sql: str) -> dict[str, tuple[Any, ...]]:
    return {record["airtable_id"]: tuple(record.values()) for record in await conn.fetch(sql)}


async def _pairs(
    conn: asyncpg.Connection, table: str, parent: str, parents: str, child: str, children: str
) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        f"SELECT p.airtable_id AS a, c.airtable_id AS b FROM {table} j "
        f"JOIN {parents} p ON p.id = j.{parent} JOIN {children} c ON c.id = j.{child}"
    )
    return sorted((row["a"], row["b"]) for row in rows)


async def scalar(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
