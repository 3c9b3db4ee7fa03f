"""The app's router holds its routes directly, API routes first (see podium.routers.api_router)."""

from fastapi.routing import APIRoute

from podium.app import create_app
from podium.config import Settings


def test_every_api_route_sits_on_the_apps_own_router_before_the_docs() -> None:
    routes = create_app(Settings()).router.routes
    # include_router() would add a nested router, which FastAPI 0.165 walks twice per request.
    nested = [type(route).__name__ for route in routes if not hasattr(route, "path")]
    assert nested == []
    paths = [route.path for route in routes]  # type: ignore[attr-defined]
    first_docs = paths.index("/openapi.json")
    assert all(
        not isinstance(route, APIRoute)
        or route.path.startswith(("/docs", "/redoc"))
        or not route.include_in_schema  # /metrics, last of all
        for route in routes[first_docs:]
    )
    assert sum(isinstance(route, APIRoute) for route in routes[:first_docs]) > 30
