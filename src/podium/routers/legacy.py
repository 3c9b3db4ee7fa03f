from __future__ import annotations

from typing import Annotated

from fastapi import Path
from fastapi.responses import Response

from podium.deps import Db
from podium.errors import error_responses, not_found
from podium.http.legacy_redirects import LEGACY_REDIRECT_MAX_AGE
from podium.ids import LEGACY_ID_PATTERN, is_legacy_id
from podium.routers import api_router
from podium.services.legacy import canonical_path

router = api_router(tags=["legacy"])

LegacyRecordId = Annotated[
    str,
    Path(
        description="A v1 (Airtable) record id",
        json_schema_extra={"pattern": LEGACY_ID_PATTERN, "examples": ["recA1b2C3d4E5f6G7"]},
    ),
]


@router.get(
    "/legacy/{airtable_id}",
    status_code=308,
    response_class=Response,
    responses={
        308: {
            "description": "Permanent redirect to the entity's canonical URL (a vote's project, "
            "a referral's event)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **error_responses(404, 422, 503),
    },
)
async def resolve_legacy_id(airtable_id: LegacyRecordId, db: Db) -> Response:
    """Redirect a v1 record id to the canonical URL of whatever it named."""
    path = await canonical_path(db, airtable_id) if is_legacy_id(airtable_id) else None
    if path is None:
        raise not_found("record")
    return Response(
        status_code=308,
        headers={"Location": path, "Cache-Control": f"public, max-age={LEGACY_REDIRECT_MAX_AGE}"},
    )
