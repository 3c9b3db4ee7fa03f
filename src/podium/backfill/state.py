"""The context a delta starts from: what earlier runs left in PostgreSQL and the quarantine."""

from __future__ import annotations

import uuid

from podium.backfill.context import Context, EventInfo, ProjectInfo
from podium.backfill.plan import Existing


def context_from_existing(existing: Existing) -> Context:
    context = Context()
    rejected: dict[str, set[str]] = {}
    merged: dict[str, str] = {}
    for entry in existing.quarantine.values():
        if entry.disposition == "rejected":
            rejected.setdefault(entry.source_table, set()).add(entry.record_id)
        elif entry.disposition == "merged" and entry.details.get("survivor"):
            merged[entry.record_id] = str(entry.details["survivor"])
    context.rejected = rejected

    user_keys: dict[uuid.UUID, str] = {}
    for record_id, row in existing.rows.get("users", {}).items():
        if record_id not in rejected.get("users", ()) and record_id not in merged:
            context.users[record_id] = row["id"]
            user_keys[row["id"]] = record_id
    for row in existing.native.get("users", []):
        key = f"v2:{row['id']}"
        context.users[key] = row["id"]
        user_keys[row["id"]] = key
    context.user_alias = {
        record_id: key for record_id, key in merged.items() if key in context.users
    }

    event_keys: dict[uuid.UUID, str] = {}
    for record_id, row in existing.rows.get("events", {}).items():
        if record_id not in rejected.get("events", ()):
            context.events[record_id] = EventInfo(row["id"], row["demo_links_optional"])
            event_keys[row["id"]] = record_id
    context.attendees = {
        (event_keys[event], user_keys[user])
        for event, user in existing.pairs.get("event_attendees", set())
        if event in event_keys and user in user_keys
    }

    collaborators: dict[uuid.UUID, set[str]] = {}
    for project, user in existing.pairs.get("project_collaborators", set()):
        if user in user_keys:
            collaborators.setdefault(project, set()).add(user_keys[user])
    for record_id, row in existing.rows.get("projects", {}).items():
        event = event_keys.get(row["event_id"])
        owner = user_keys.get(row["owner_id"])
        if record_id in rejected.get("projects", ()) or event is None or owner is None:
            continue
        team = frozenset({owner, *collaborators.get(row["id"], set())})
        context.projects[record_id] = ProjectInfo(row["id"], event, team)
    return context
