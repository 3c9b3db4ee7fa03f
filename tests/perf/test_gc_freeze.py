"""Start-up objects are frozen out of the cyclic GC, so a full collection does not stall a worker."""

from __future__ import annotations

import gc

from fastapi import FastAPI


async def test_the_running_app_has_frozen_its_start_up_objects(app: FastAPI) -> None:
    # The app's lifespan has run (the fixture serves it): its modules, models and routes are
    # in the permanent generation.
    assert gc.get_freeze_count() > 50_000
