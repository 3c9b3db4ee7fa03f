"""The event owner's CSV exports under /events/admin/{event_id}/export/."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import StreamingResponse

from podium.deps import CurrentUser, Db, OwnedEvent
from podium.errors import error_responses
from podium.queries.exports import ExportName
from podium.routers import api_router
from podium.services import exports as service
from podium.services.audit import Actor, AuditedEvent

router = api_router(prefix="/events/admin/{event_id}/export", tags=["event admin"])

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def csv_responses(which: ExportName, leading: str = "") -> dict[int | str, dict[str, Any]]:
    """The 200 of an export route (its columns in order, `leading` ones first) and its errors."""
    columns = ", ".join(f"`{name}`" for name in service.COLUMNS[which])
    return {
        200: {
            "description": (
                f"UTF-8 CSV (with a byte-order mark, CRLF line ends), a header row, then one row "
                f"per record. Columns, in this order (new columns are only ever appended): "
                f"{leading}{columns}. Text cells that a spreadsheet would read as a formula "
                f"(starting with =, +, -, @, tab or CR) begin with an apostrophe. Several values "
                f"in one cell are separated by `; `."
            ),
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 403, 404, 422, 503),
    }


async def csv_download(chunks: AsyncGenerator[bytes, None], name: str) -> StreamingResponse:
    """The export `chunks` as an attachment called `name`, its first chunk read already."""
    # Read the first chunk now: a database fault is still a 503 here, not a truncated file.
    first = await anext(chunks)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # a client that left ends the export's transaction now

    return StreamingResponse(
        body(),
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            # Personal data: no shared cache keeps it, the browser does not store it.
            "Cache-Control": "private, no-store",
        },
    )


async def _download(
    db: Db, event: OwnedEvent, user: CurrentUser, which: ExportName
) -> StreamingResponse:
    # Audited first, in a transaction of its own (services.exports.record says why).
    async with db.transaction() as tx:
        await service.record(tx, Actor.organiser(user, event), which, [AuditedEvent.of(event)])
    name = service.filename(event.slug, which, datetime.now(UTC))
    return await csv_download(service.stream(db, which, event.pk), name)


@router.get("/projects.csv", response_class=StreamingResponse, responses=csv_responses("projects"))
async def export_projects_csv(event: OwnedEvent, user: CurrentUser, db: Db) -> StreamingResponse:
    """Every project by rank, with points, links, hours, and owner and collaborators' contacts."""
    return await _download(db, event, user, "projects")


@router.get("/votes.csv", response_class=StreamingResponse, responses=csv_responses("votes"))
async def export_votes_csv(event: OwnedEvent, user: CurrentUser, db: Db) -> StreamingResponse:
    """Every vote of the event, oldest first, with its voter and project."""
    return await _download(db, event, user, "votes")


@router.get(
    "/attendees.csv", response_class=StreamingResponse, responses=csv_responses("attendees")
)
async def export_attendees_csv(event: OwnedEvent, user: CurrentUser, db: Db) -> StreamingResponse:
    """Every attendee in joining order, with their contact and postal details."""
    return await _download(db, event, user, "attendees")


@router.get(
    "/referrals.csv", response_class=StreamingResponse, responses=csv_responses("referrals")
)
async def export_referrals_csv(event: OwnedEvent, user: CurrentUser, db: Db) -> StreamingResponse:
    """Every referral answer of the event, oldest first, with who gave it."""
    return await _download(db, event, user, "referrals")
