"""The REST API: a FastAPI app mounted on the Reflex backend under /api/v1."""

from fastapi import APIRouter, FastAPI

from heho_app.api.auth_routes import router as auth_router

API_PREFIX = "/api/v1"

router = APIRouter(prefix=API_PREFIX)


@router.get("/health", tags=["meta"])
async def health() -> dict[str, str]:
    """Liveness: answers without authentication."""
    return {"status": "ok"}


def create_api() -> FastAPI:
    api = FastAPI(
        title="HeHo API",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    api.include_router(router)
    api.include_router(auth_router)
    return api
