"""Project views with points, and the event's project lists and leaderboards.

The rows come from podium.queries.projects (one statement per list, points counted from the
votes in it); this module shapes them into the public, private and admin views, decides who may
see a ranking, and tags the lists for conditional GET.

Lists of an event's projects are returned whole, not paginated: an event holds at most a few
thousand projects (a hackathon's teams), and the random order of the public list cannot be
paged consistently anyway.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pydantic_core

from podium.db import Executor, Record
from podium.errors import ApiError, ErrorCode
from podium.http.conditional import keyed_etag
from podium.ids import Entity
from podium.models import Event
from podium.models.phase import leaderboard_shown
from podium.public_ids import current_codec, public_id
from podium.queries import projects as project_rows
from podium.queries import revisions
from podium.queries.projects import Order
from podium.schemas.projects import ProjectPrivate, ProjectPublic
from podium.services import link_checks

# A project row of podium.queries.projects, read by column name.
Row = Mapping[str, Any]

_SHOWN_AS_STORED = operator.itemgetter(*project_rows.SHOWN_AS_STORED_NAMES)


def _public_fields(row: Row) -> dict[str, Any]:
    # Plain dicts, validated by pydantic in one call per list: building a model per project
    # (and per person) in Python cost more than the query on a 1,000-project leaderboard.
    return {
        "id": public_id(Entity.PROJECT, row["seq"]),
        **dict(zip(project_rows.SHOWN_AS_STORED_NAMES, _SHOWN_AS_STORED(row), strict=True)),
        "event_id": public_id(Entity.EVENT, row["event_seq"]),
        "owner": {
            "id": public_id(Entity.USER, row["owner_seq"]),
            "display_name": row["owner_display_name"],
        },
        "collaborators": [
            {"id": public_id(Entity.USER, seq), "display_name": name}
            for seq, name in zip(row["collaborator_seqs"], row["collaborator_names"], strict=True)
        ],
        # Points would reveal the ranking the organiser has not published yet.
        "points": row["points"] if row["leaderboard_enabled"] else None,
    }


def _private_fields(row: Row) -> dict[str, Any]:
    return {
        **_public_fields(row),
        "join_code": row["join_code"],
        "cached_auto_quality": row["cached_auto_quality"],
    }


def _admin_fields(row: Row) -> dict[str, Any]:
    return {
        **_private_fields(row),
        "points": row["points"],
        "owner_email": row["owner_email"],
        "created_at": row["created_at"],
        "link_check": link_checks.admin_fields(row),
    }


class _JsonOfRow:
    """The JSON of a list's item, memoised by every value of its row.

    Building an item (a dict with its public IDs, then JSON) is most of a list's Python cost;
    a polled list sends the same rows again and again, and a vote or an edit changes only the
    rows it touches. The key is the whole row, so a memoised item is never stale: any change to
    what it shows is a new key, and a new ID key (configure_codec) starts the memo over.
    Bounded: the memo starts over when full (~10 MB per worker at the bound).
    """

    def __init__(self, fields: Callable[[Row], dict[str, Any]], max_items: int) -> None:
        self._fields = fields
        self._max_items = max_items
        self._memo: dict[tuple[Any, ...], bytes] = {}
        self._codec: object = None

    def join(self, rows: Sequence[Record]) -> bytes:
        """`[item, item, …]` of the rows, as one JSON array."""
        if self._codec is not current_codec():
            self._memo.clear()
            self._codec = current_codec()
        if not rows:
            return b"[]"
        # Arrays arrive as lists, which cannot be a key: those columns become tuples.
        arrays = [n for n, value in enumerate(rows[0].values()) if isinstance(value, list)]
        memo, items = self._memo, []
        for row in rows:
            values = list(row.values())
            for n in arrays:
                values[n] = tuple(values[n])
            key = tuple(values)
            item = memo.get(key)
            if item is None:
                if len(memo) >= self._max_items:
                    memo.clear()
                item = memo[key] = pydantic_core.to_json(self._fields(row))
            items.append(item)
        return b"[" + b",".join(items) + b"]"


# An event has at most a few thousand projects; a worker serves a few events at a time.
LIST_ITEMS_MEMOISED = 10_000
_public_items = _JsonOfRow(_public_fields, LIST_ITEMS_MEMOISED)
_admin_items = _JsonOfRow(_admin_fields, LIST_ITEMS_MEMOISED)


def public_view(row: Row) -> ProjectPublic:
    return ProjectPublic.model_validate(_public_fields(row))


def private_view(row: Row) -> ProjectPrivate:
    return ProjectPrivate.model_validate(_private_fields(row))


def _shows_ranking(event: Event) -> bool:
    return leaderboard_shown(event.phase, event.live_leaderboard)


def _require_public_leaderboard(event: Event, leaderboard: bool) -> None:
    if leaderboard and not _shows_ranking(event):
        raise ApiError(
            403,
            ErrorCode.LEADERBOARD_DISABLED,
            "the ranking is public once the event is closed, or earlier if the organiser "
            "turns on its live leaderboard",
        )


async def event_projects_etag(db: Executor, event: Event, secret: str, *, leaderboard: bool) -> str:
    """The tag of the event's public project list: changes with anything the list shows.

    Votes count only while points are shown: a hidden leaderboard's tag must not move with
    every vote (it would tell who is winning when, the very thing the organiser hides).
    """
    _require_public_leaderboard(event, leaderboard)
    content, votes = await revisions.of_event(db, event.pk)
    shown_votes = votes if _shows_ranking(event) else "-"
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    return keyed_etag(secret, "projects", event.seq, order.value, content, shown_votes)


async def event_projects_json(db: Executor, event: Event, *, leaderboard: bool) -> bytes:
    """The event's projects, shuffled or ranked, as JSON; public (v1 served it to anyone).

    Serialised straight from the rows (a list of `ProjectPublic`, as the route declares and the
    contract tests check): validating 1,000 freshly built objects cost more than the query.
    """
    _require_public_leaderboard(event, leaderboard)
    order = Order.LEADERBOARD if leaderboard else Order.RANDOM
    return _public_items.join(await project_rows.of_event(db, event.pk, order, private=False))


async def admin_leaderboard_etag(db: Executor, event: Event, secret: str) -> str:
    content, votes = await revisions.of_event(db, event.pk)
    return keyed_etag(secret, "admin-leaderboard", event.seq, content, votes)


async def admin_leaderboard_json(db: Executor, event: Event) -> bytes:
    """Every project of the event ranked by points, whatever the leaderboard flag says."""
    rows = await project_rows.of_event(db, event.pk, Order.LEADERBOARD, private=True)
    return _admin_items.join(rows)
