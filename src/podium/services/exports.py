"""CSV exports of an event for its organiser: streamed in chunks, spreadsheet-safe, UTF-8.

The columns of each export are fixed here, in this order (the spec's description of each route
lists them from `COLUMNS`); adding a column appends it, so a spreadsheet's formulas that read
columns by position keep working.

Spreadsheet-safe: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
read by Excel, LibreOffice and Google Sheets as a formula (CSV injection: a project named
`=HYPERLINK("http://evil", "prize")`). Such a cell gets a leading `'`, which the spreadsheet
shows as text and hides; the value itself is otherwise unchanged. Numbers are written as numbers.

The file starts with a UTF-8 byte-order mark: Excel reads a CSV without one in the system's
legacy code page, and names like "Zoë" or "渡辺" would come out garbled.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium.db import Database, Record, Transaction
from podium.ids import Entity
from podium.models.audit import AuditAction
from podium.public_ids import public_id
from podium.queries import exports as queries
from podium.queries.exports import CONTACT_COLUMNS, ExportName
from podium.services import audit

# Rows per statement: ~0.5 MB of a projects export at most, whatever the event's size.
CHUNK_ROWS = 500
# How long one export may take in all, the client's reading included (its transaction stays
# open meanwhile): a 5,000-project export is ~3 MB, a minute at 400 kbit/s.
EXPORT_SECONDS = 300.0
BYTE_ORDER_MARK = "\ufeff"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = Callable[[Record], Any]


def _id(entity: Entity, column: str) -> Cell:
    return lambda row: public_id(entity, row[column])


def _ids(entity: Entity, column: str) -> Cell:
    return lambda row: "; ".join(public_id(entity, seq) for seq in row[column])


def _joined(column: str) -> Cell:
    return lambda row: "; ".join(row[column])


def _field(column: str) -> Cell:
    return lambda row: row[column]


def _time(column: str) -> Cell:
    return lambda row: row[column].isoformat()


def _reasons(value: Any) -> list[dict[str, str]]:
    """A check's reasons as stored (jsonb: asyncpg gives the text unless a codec is set)."""
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else list(value)


def _contact(prefix: str) -> list[tuple[str, Cell]]:
    return [(f"{prefix}{name}", _field(f"{prefix}{name}")) for name in CONTACT_COLUMNS]


# Per export: (header, how a row gives the cell), in the file's order.
_CELLS: dict[ExportName, list[tuple[str, Cell]]] = {
    "projects": [
        ("rank", _field("rank")),
        ("points", _field("points")),
        ("project_id", _id(Entity.PROJECT, "seq")),
        ("name", _field("name")),
        ("description", _field("description")),
        ("repo", _field("repo")),
        ("demo", _field("demo")),
        ("image_url", _field("image_url")),
        ("hours_spent", _field("hours_spent")),
        ("submitted_at", _time("created_at")),
        ("owner_id", _id(Entity.USER, "owner_seq")),
        *_contact("owner_"),
        ("collaborator_ids", _ids(Entity.USER, "collaborator_seqs")),
        ("collaborator_names", _joined("collaborator_names")),
        ("collaborator_emails", _joined("collaborator_emails")),
        ("collaborator_phones", _joined("collaborator_phones")),
        # The background link check (docs/link-checks.md): empty when never queued.
        ("link_check_status", lambda row: row["link_check_status"] or ""),
        (
            "link_check_reasons",
            lambda row: "; ".join(
                f"{r['link']}: {r['message']}" for r in _reasons(row["link_check_reasons"])
            ),
        ),
        (
            "link_checked_at",
            lambda row: row["link_checked_at"].isoformat() if row["link_checked_at"] else "",
        ),
    ],
    "votes": [
        ("vote_id", _id(Entity.VOTE, "seq")),
        ("cast_at", _time("created_at")),
        ("voter_id", _id(Entity.USER, "voter_seq")),
        ("voter_display_name", _field("voter_display_name")),
        ("voter_email", _field("voter_email")),
        ("project_id", _id(Entity.PROJECT, "project_seq")),
        ("project_name", _field("project_name")),
    ],
    "attendees": [
        ("user_id", _id(Entity.USER, "user_seq")),
        ("joined_at", _time("created_at")),
        *_contact(""),
    ],
    "referrals": [
        ("referral_id", _id(Entity.REFERRAL, "seq")),
        ("created_at", _time("created_at")),
        ("user_id", _id(Entity.USER, "user_seq")),
        ("display_name", _field("display_name")),
        ("email", _field("email")),
        ("content", _field("content")),
    ],
}
COLUMNS: dict[ExportName, tuple[str, ...]] = {
    name: tuple(header for header, _ in cells) for name, cells in _CELLS.items()
}


def safe_cell(value: Any) -> Any:
    """`value` as a spreadsheet shows it as text: a leading `'` on what would be a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _encode(rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass(frozen=True)
class Part:
    """One event's rows of an export, each row led by `leading` cells (the superadmin's
    export across events puts the event's ID and name there)."""

    event_id: uuid.UUID
    leading: tuple[Any, ...] = ()


def stream(
    db: Database, which: ExportName, event_id: uuid.UUID, *, chunk_rows: int = CHUNK_ROWS
) -> AsyncGenerator[bytes, None]:
    """The export of one event (see `stream_parts`)."""
    return stream_parts(db, which, [Part(event_id)], chunk_rows=chunk_rows)


async def stream_parts(
    db: Database,
    which: ExportName,
    parts: Sequence[Part],
    leading_headers: Sequence[str] = (),
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> AsyncGenerator[bytes, None]:
    """The export as CSV bytes, one chunk of rows at a time, all read in one snapshot: the
    header, then each part's rows in turn.

    The first item (the header and the first rows) is read before anything is sent: the route
    awaits it, so a database that is down is a 503, not a cut-off download.
    """
    cells = _CELLS[which]
    header = [*leading_headers, *COLUMNS[which]]
    first = True
    async with db.transaction(snapshot=True, seconds=EXPORT_SECONDS) as tx:
        for part in parts:
            leading = [safe_cell(value) for value in part.leading]
            after: Record | None = None
            while True:
                rows = await queries.chunk(tx, which, part.event_id, chunk_rows, after)
                lines = [[*leading, *(safe_cell(cell(row)) for _, cell in cells)] for row in rows]
                if first:
                    lines.insert(0, header)
                if lines:  # an export of an exact number of chunks ends with an empty one
                    data = _encode(lines)
                    yield (BYTE_ORDER_MARK.encode() + data) if first else data
                first = False
                if len(rows) < chunk_rows:
                    break
                after = rows[-1]


async def record(
    tx: Transaction,
    actor: audit.Actor,
    which: ExportName,
    events: Sequence[audit.AuditedEvent],
) -> None:
    """An `exported` entry per event, with the rows it has in the export `which`.

    Run in its own short transaction before the export streams (the export's snapshot is
    read-only, and a download the client breaks off half-way has still sent personal data):
    an entry means the data was asked for, and the count is the rows at that moment.
    """
    counts = await queries.row_counts(tx, which, [event.id for event in events])
    spread = {"events": len(events)} if len(events) > 1 else {}
    for event in events:
        await audit.record(
            tx,
            actor,
            AuditAction.EXPORTED,
            event=event,
            changes={"export": which, "rows": counts.get(event.id, 0), **spread},
        )


def filename(slug: str, which: ExportName, now: datetime) -> str:
    """`<event slug>-<export>-<UTC date>.csv`: one file per export and day in a downloads folder."""
    return f"{slug}-{which}-{now:%Y-%m-%d}.csv"
