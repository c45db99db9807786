"""The gate in front of every REST API route, as ASGI middleware.

In order, for each HTTP request under /api/v1:
1. a key-like value in the query string: 400 (keys never travel in URLs);
2. unless the path is public: the bearer key (401, one body for every failure),
   then the key's rate limit (429 with Retry-After);
3. the body: at most `max_body_bytes` counted on the stream itself (413), and
   JSON when there is one (415);
4. the route, with `X-RateLimit-*` headers added to its response;
5. any unhandled exception: a logged 500 with a generic body;
6. one access-log record and one log line (key prefix only), whatever happened.

Authenticating here rather than per route makes every new route private by
default; routes read the verified key through `deps.get_current_key`.
"""

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heho_app.api import API_PREFIX
from heho_app.api.access_log import AccessLogWriter, AccessRecord, loggable_path
from heho_app.api.errors import INTERNAL_MESSAGE, INVALID_KEY_MESSAGE, error_response
from heho_app.api.ratelimit import RateLimiter, RateLimitState
from heho_app.db import session_scope
from heho_app.models import utcnow
from heho_app.services.api_keys import KEY_LIKE, VerifiedKey, verify_api_key
from heho_app.settings import get_settings

logger = logging.getLogger(__name__)

CONTEXT_KEY = "heho.api"
# Query parameter names that only ever mean "here is my credential".
CREDENTIAL_PARAMS = frozenset(
    {"api_key", "apikey", "api-key", "key", "token", "access_token", "auth", "authorization"}
)
JSON_TYPES = ("application/json",)


@dataclass
class RequestContext:
    """What the guard learned about the request; routes read it through deps."""

    key: VerifiedKey | None = None
    rate_limit: RateLimitState | None = None
    status: int = 500
    response_started: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)


def _key_in_query(query_string: bytes) -> bool:
    query = query_string.decode("latin-1")
    if KEY_LIKE.search(unquote(query)):
        return True
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.lower() in CREDENTIAL_PARAMS or KEY_LIKE.search(name) or KEY_LIKE.search(value):
            return True
    return False


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in JSON_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _bearer_token(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _verify_in_db(token: str) -> VerifiedKey | None:
    with session_scope() as session:
        return verify_api_key(session, token)


class _BodyTooLarge(Exception):
    pass


class ApiGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        access_log: AccessLogWriter,
        max_body_bytes: int,
        public_paths: Collection[str],
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.access_log = access_log
        self.max_body_bytes = max_body_bytes
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        context = RequestContext()
        scope[CONTEXT_KEY] = context

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                context.response_started = True
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in context.extra_headers.items()
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self._handle(scope, receive, send_with_headers, context)
        except Exception:
            logger.exception(
                "unhandled error in %s %s",
                scope["method"],
                loggable_path(path, scope.get("query_string", b"")),
            )
            if not context.response_started:
                await error_response(path, 500, INTERNAL_MESSAGE)(scope, receive, send_with_headers)
        finally:
            key = context.key
            record = AccessRecord(
                created_at=utcnow(),
                method=scope["method"],
                path=loggable_path(path, scope.get("query_string", b"")),
                status=context.status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                client_address=client_address(scope),
                user_id=key.user_id if key else None,
                key_id=key.id if key else None,
                key_prefix=key.prefix if key else None,
            )
            self.access_log.record(record)
            logger.info(
                "%s %s %d %.1fms key=%s",
                record.method,
                record.path,
                record.status,
                record.duration_ms,
                record.key_prefix or "-",
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, context: RequestContext
    ) -> None:
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if _key_in_query(scope.get("query_string", b"")):
            await error_response(
                path,
                400,
                "API keys are not accepted in URLs: send 'Authorization: Bearer <key>'. "
                "Treat a key that was put in a URL as leaked, and rotate it.",
                code="key_in_url",
            )(scope, receive, send)
            return
        if path not in self.public_paths:
            token = _bearer_token(headers)
            key = await run_in_threadpool(_verify_in_db, token) if token else None
            if key is None:
                await error_response(
                    path, 401, INVALID_KEY_MESSAGE, headers={"WWW-Authenticate": "Bearer"}
                )(scope, receive, send)
                return
            context.key = key
            try:
                context.rate_limit = await self.limiter.hit(key)
            except Exception:  # e.g. Redis is down: refuse rather than serve unlimited
                logger.exception("the rate limiter is unavailable")
                await error_response(
                    path,
                    503,
                    "The service is briefly unavailable; try again shortly.",
                    headers={"Retry-After": "5"},
                )(scope, receive, send)
                return
            context.extra_headers.update(context.rate_limit.headers())
            if not context.rate_limit.allowed:
                await error_response(
                    path,
                    429,
                    f"Rate limit of {context.rate_limit.limit} requests per minute reached.",
                    headers={"Retry-After": str(context.rate_limit.retry_after())},
                )(scope, receive, send)
                return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        if body and not _is_json(headers.get("content-type")):
            await error_response(
                path, 415, "The request body must be JSON (Content-Type: application/json)."
            )(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the route will see the disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(
            scope["path"], 413, f"The request body is larger than {self.max_body_bytes} bytes."
        )(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the route the body already read, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def client_address(scope: Scope) -> str:
    """The client's address; behind HEHO_TRUSTED_PROXY_HOPS proxies, the one they saw."""
    address = (scope.get("client") or ("", 0))[0] or ""
    hops = get_settings().trusted_proxy_hops
    if hops:
        header = Headers(scope=scope).get("x-forwarded-for", "")
        forwarded = [ip.strip() for ip in header.split(",") if ip.strip()]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return address
