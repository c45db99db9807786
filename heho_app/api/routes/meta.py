"""Health, and the answer for paths under /api/v1 that no route serves."""

from fastapi import APIRouter, Request
from starlette.routing import compile_path

from heho_app.api import API_PREFIX
from heho_app.api.errors import ApiError
from heho_app.api.schemas import Health

router = APIRouter(prefix=API_PREFIX, tags=["meta"])
fallback_router = APIRouter(prefix=API_PREFIX)


@router.get("/health")
async def health() -> Health:
    """Liveness: answers without authentication."""
    return Health(status="ok")


@fallback_router.api_route(
    "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def not_served(request: Request) -> None:
    """404 in HeHo's error shape (rather than the web app's page), or 405 with Allow."""
    allowed = sorted(
        method.upper()
        for template, operations in request.app.openapi()["paths"].items()
        if compile_path(template)[0].match(request.url.path)
        for method in operations
    )
    if allowed:
        raise ApiError(405, "Method not allowed.", headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "No such API path.")
