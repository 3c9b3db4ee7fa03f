"""What later stages know of earlier ones: which v1 records landed, as which rows, and which not.

Everything is keyed by v1 record id ("key"). A v2-native row (no airtable_id) that a v1 record
was merged onto is keyed "v2:<uuid>". The context of a finished stage is stored with its
checkpoint (`carry`), so a resumed run knows exactly what an uninterrupted one would have.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Unresolved(Enum):
    DANGLING = "dangling"  # no such record in the base
    REJECTED = "rejected"  # the record exists but was not migrated


@dataclass(frozen=True)
class EventInfo:
    id: uuid.UUID
    demo_links_optional: bool


@dataclass(frozen=True)
class ProjectInfo:
    id: uuid.UUID
    event: str
    team: frozenset[str]  # owner and collaborators (user keys)


@dataclass
class Context:
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    user_alias: dict[str, str] = field(default_factory=dict)  # merged record → survivor key
    events: dict[str, EventInfo] = field(default_factory=dict)
    projects: dict[str, ProjectInfo] = field(default_factory=dict)
    attendees: set[tuple[str, str]] = field(default_factory=set)  # (event key, user key)
    rejected: dict[str, set[str]] = field(default_factory=dict)

    def resolve_user(self, record_id: str) -> str | Unresolved:
        key = self.user_alias.get(record_id, record_id)
        if key in self.users:
            return key
        return self._unresolved("users", record_id)

    def resolve_event(self, record_id: str) -> str | Unresolved:
        return record_id if record_id in self.events else self._unresolved("events", record_id)

    def resolve_project(self, record_id: str) -> str | Unresolved:
        return record_id if record_id in self.projects else self._unresolved("projects", record_id)

    def resolve(self, table: str, record_id: str) -> str | Unresolved:
        if table == "users":
            return self.resolve_user(record_id)
        if table == "events":
            return self.resolve_event(record_id)
        return self.resolve_project(record_id)

    def _unresolved(self, table: str, record_id: str) -> Unresolved:
        if record_id in self.rejected.get(table, ()):
            return Unresolved.REJECTED
        return Unresolved.DANGLING

    def replace_rejected(
        self, table: str, record_ids: set[str], *, full: bool, batch: set[str]
    ) -> None:
        """The records of `batch` now rejected are `record_ids` (all of them when `full`)."""
        current = set() if full else self.rejected.get(table, set()) - batch
        self.rejected[table] = current | record_ids

    # -- checkpoint carry ------------------------------------------------------------------

    def carry(self, stage: str) -> dict[str, Any]:
        """What `stage` contributed, as JSON."""
        carried: dict[str, Any] = {"rejected": sorted(self.rejected.get(stage, ()))}
        if stage == "users":
            carried["users"] = {key: str(value) for key, value in self.users.items()}
            carried["alias"] = dict(self.user_alias)
        elif stage == "events":
            carried["events"] = {
                key: [str(info.id), info.demo_links_optional] for key, info in self.events.items()
            }
            carried["attendees"] = sorted([list(pair) for pair in self.attendees])
        elif stage == "projects":
            carried["projects"] = {
                key: [str(info.id), info.event, sorted(info.team)]
                for key, info in self.projects.items()
            }
        return carried

    def restore(self, stage: str, carried: dict[str, Any]) -> None:
        self.rejected[stage] = set(carried.get("rejected", ()))
        if stage == "users":
            self.users = {key: uuid.UUID(value) for key, value in carried["users"].items()}
            self.user_alias = dict(carried["alias"])
        elif stage == "events":
            self.events = {
                key: EventInfo(uuid.UUID(value[0]), bool(value[1]))
                for key, value in carried["events"].items()
            }
            self.attendees = {(pair[0], pair[1]) for pair in carried["attendees"]}
        elif stage == "projects":
            self.projects = {
                key: ProjectInfo(uuid.UUID(value[0]), value[1], frozenset(value[2]))
                for key, value in carried["projects"].items()
            }
