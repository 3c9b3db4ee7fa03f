"""The caller's own trash: the events and projects they deleted (or that were theirs), and
their restore. The superadmin's view of every entry is in podium.routers.superadmin."""

from __future__ import annotations

from podium.deps import CurrentUser, Db, TrashPathId
from podium.errors import error_responses
from podium.routers import api_router
from podium.schemas.common import Page
from podium.schemas.trash import TrashEntry, TrashRestored
from podium.services import trash as service
from podium.services.pagination import PageParams

router = api_router(prefix="/users/current/trash", tags=["trash"])


@router.get("", response_model=Page[TrashEntry], responses=error_responses(401, 422, 503))
async def list_my_trash(user: CurrentUser, page: PageParams, db: Db) -> Page[TrashEntry]:
    """The caller's trashed events and projects, oldest deletion first."""
    return await service.entries(db, user, page)


@router.post(
    "/{trash_id}/restore",
    response_model=TrashRestored,
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def restore_my_trash(trash_id: TrashPathId, user: CurrentUser, db: Db) -> TrashRestored:
    """Put a trashed event or project of the caller's back as it was (409 while a project's
    event is in the trash; 403 while the event's phase takes no project changes)."""
    async with db.transaction() as tx:
        return await service.restore(tx, trash_id, user, any_owner=False)
