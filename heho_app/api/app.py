"""The REST API: a FastAPI app mounted on the Reflex backend under /api/v1."""

from typing import Any

from fastapi import FastAPI

from heho_app.api import API_PREFIX
from heho_app.api.access_log import AccessLogWriter
from heho_app.api.auth_routes import router as auth_router
from heho_app.api.errors import install_error_handlers
from heho_app.api.guard import ApiGuard
from heho_app.api.ratelimit import RateLimiter
from heho_app.api.routes import account, audit, chat, chatbots, meta
from heho_app.api.schemas import ErrorResponse, OpenAIErrorResponse
from heho_app.settings import Settings, get_settings

OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"
PUBLIC_PATHS = frozenset({f"{API_PREFIX}/health", OPENAPI_URL, DOCS_URL})

DESCRIPTION = """
Use your HeHo chatbots from other programs.

**Authentication.** Every path except `/health` and this spec needs
`Authorization: Bearer <HeHo API key>`. A key in the URL is refused (400): treat it
as leaked and rotate it.

**Rate limits.** Each key has a budget of requests per minute (moving window;
60 unless set otherwise). Every authenticated response carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time
when the oldest counted request leaves the window); over the budget the answer is
429 with `Retry-After` (seconds).

**Bodies** are JSON (`Content-Type: application/json`, else 415), at most the
configured size (1 MiB by default, else 413); unknown fields are errors (422).

**Errors** are `{"error": {"code": "...", "message": "..."}}`; a 422 adds
`details`, a list of `{loc, message, type}`. `/chat/completions` answers errors in
OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so that OpenAI's
SDKs raise them as exceptions.

**Chat.** `POST /chat` runs a chatbot in HeHo's own shape; `POST /chat/completions`
speaks OpenAI's protocol with the chatbot's id as `model`: point an OpenAI SDK at
`<HeHo>/api/v1` with a HeHo API key. Both stream with `stream: true`. The chatbot's
tool calls run inside HeHo, under its grants, and are audited.
"""


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorResponse, "description": description}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, type_: str = "integer") -> dict[str, Any]:
    return {"description": description, "schema": {"type": type_}}


RATE_HEADERS = {
    "X-RateLimit-Limit": _header("Requests per minute allowed for this key."),
    "X-RateLimit-Remaining": _header("Requests left in the current window."),
    "X-RateLimit-Reset": _header("Unix time when the oldest counted request leaves the window."),
}
PUBLIC_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("An API key was sent in the URL (code `key_in_url`)."),
    500: _error("An unexpected error; nothing about it is disclosed."),
}
PRIVATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PUBLIC_RESPONSES,
    401: _error(
        "Missing, malformed, unknown or revoked API key (one body for all).",
        {"WWW-Authenticate": _header("`Bearer`.", "string")},
    ),
    413: _error("The body is larger than the limit."),
    415: _error("The body is not JSON."),
    422: _error("The request is not valid; `details` says where and why."),
    429: _error(
        "The key's rate limit is reached.",
        {"Retry-After": _header("Seconds to wait before trying again."), **RATE_HEADERS},
    ),
    503: _error(
        "The rate limiter's store (Redis) cannot be reached.",
        {"Retry-After": _header("Seconds to wait before trying again.")},
    ),
}
OPENAI_RESPONSES = {
    status: {**response, "model": OpenAIErrorResponse}
    for status, response in PRIVATE_RESPONSES.items()
}


def create_api(
    *,
    settings: Settings | None = None,
    limiter: RateLimiter | None = None,
    access_log: AccessLogWriter | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    api = FastAPI(
        title="HeHo API",
        version="1",
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=DOCS_URL,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    install_error_handlers(api)
    api.include_router(meta.router, responses=PUBLIC_RESPONSES)
    for router in (account.router, chatbots.router, audit.router, chat.router):
        api.include_router(router, responses=PRIVATE_RESPONSES)
    api.include_router(chat.completions_router, responses=OPENAI_RESPONSES)
    api.include_router(auth_router)
    api.include_router(meta.fallback_router)
    api.state.access_log = access_log or AccessLogWriter()
    api.state.limiter = limiter or RateLimiter(settings.redis_url)
    api.add_middleware(
        ApiGuard,
        limiter=api.state.limiter,
        access_log=api.state.access_log,
        max_body_bytes=settings.api_max_body_bytes,
        public_paths=PUBLIC_PATHS,
    )
    return api
