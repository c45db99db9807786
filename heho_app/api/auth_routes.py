"""HTTP endpoints that set and clear the session cookie.

Reflex talks to the browser over a websocket, which cannot set cookies; these few
routes can. The session token lives only in the `heho_session` cookie (HttpOnly,
SameSite=Lax, Secure under HTTPS), which page JavaScript cannot read.

Every POST here requires the app's own `Origin` and a CSRF token
(`X-CSRF-Token` header, or a `csrf_token` field) matching the browser's HttpOnly
`heho_csrf` cookie; otherwise it answers 403 and changes nothing.

    GET  /auth/csrf     {"csrf_token": ...}; sets the `heho_csrf` cookie when missing
    POST /auth/login    {email, password, next?} → sets `heho_session`, {"ok", "redirect"}
    POST /auth/logout   {next?} → ends the session, clears `heho_session`, {"ok", "redirect"}
"""

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from heho_app import security
from heho_app.api.guard import client_address
from heho_app.db import session_scope
from heho_app.services import accounts
from heho_app.services.ratelimit import RateLimited
from heho_app.settings import get_settings

logger = logging.getLogger("heho.auth")

AUTH_PREFIX = "/auth"
AFTER_LOGOUT = "/login?logged_out=1"

router = APIRouter(prefix=AUTH_PREFIX, tags=["auth"], include_in_schema=False)


def error(status: int, code: str, message: str, field: str | None = None, **extra) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error": {"code": code, "message": message}}
    if field:
        body["error"]["field"] = field
    response = JSONResponse(body, status_code=status, headers=extra.get("headers"))
    response.headers["Cache-Control"] = "no-store"
    return response


def _cookie_kwargs() -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": get_settings().secure_cookies,
        "path": "/",
    }


def _set_csrf_cookie(response: JSONResponse, seed: str) -> None:
    response.set_cookie(security.CSRF_COOKIE, seed, max_age=60 * 60 * 24 * 30, **_cookie_kwargs())


# An email, a password (72 bytes at most), a CSRF token and a `next` path fit easily.
AUTH_MAX_BODY_BYTES = 16_384


async def _read_body(request: Request) -> dict[str, Any] | None:
    """The JSON or form body; None when it has no declared length or a length over
    AUTH_MAX_BODY_BYTES, in which case nothing of it is read."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > AUTH_MAX_BODY_BYTES:
        return None
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            body = await request.json()
        else:
            body = dict(await request.form())
    except Exception:  # a malformed body is treated as an empty one
        return {}
    return body if isinstance(body, dict) else {}


async def guarded(request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
    """The request body, or a 403 when the Origin or the CSRF token is not right."""
    if not security.origin_allowed(request.headers.get("origin")):
        return {}, error(403, "origin", "This request did not come from HeHo's own pages.")
    body = await _read_body(request)
    if body is None:
        return {}, error(
            413,
            "payload_too_large",
            f"The request needs a Content-Length of at most {AUTH_MAX_BODY_BYTES} bytes.",
        )
    token = request.headers.get(security.CSRF_HEADER) or body.get(security.CSRF_FIELD)
    seed = request.cookies.get(security.CSRF_COOKIE)
    if not security.csrf_token_valid(seed, token if isinstance(token, str) else None):
        return {}, error(403, "csrf", "Your form has expired. Reload the page and try again.")
    return body, None


@router.get("/csrf")
async def csrf(request: Request) -> JSONResponse:
    seed = request.cookies.get(security.CSRF_COOKIE)
    fresh = not seed or len(seed) > 128
    if fresh:
        seed = security.new_csrf_seed()
    assert seed is not None
    response = JSONResponse({"csrf_token": security.csrf_token_for(seed)})
    response.headers["Cache-Control"] = "no-store"
    if fresh:
        _set_csrf_cookie(response, seed)
    return response


@router.post("/login")
async def login(request: Request) -> JSONResponse:
    body, refused = await guarded(request)
    if refused:
        return refused
    email = body.get("email") if isinstance(body.get("email"), str) else ""
    password = body.get("password") if isinstance(body.get("password"), str) else ""
    if not email or not password:
        field = "email" if not email else "password"
        return error(400, "missing", "Fill in your email and password.", field)
    address, agent = client_address(request.scope), request.headers.get("user-agent", "")

    def check_password() -> accounts.LoginResult:
        with session_scope() as session:
            return accounts.login(
                session, email, password, client_address=address, user_agent=agent
            )

    try:
        # bcrypt takes a quarter of a second: not on the event loop.
        result = await run_in_threadpool(check_password)
    except RateLimited as limited:
        return error(
            429,
            "rate_limited",
            limited.message,
            headers={"Retry-After": str(limited.retry_after)},
        )
    except accounts.AccountError as refused_login:
        return error(400, refused_login.code, refused_login.message, refused_login.field)
    response = JSONResponse({"ok": True, "redirect": security.safe_next(body.get("next"))})
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        security.SESSION_COOKIE,
        result.token,
        max_age=get_settings().session_days * 24 * 60 * 60,
        **_cookie_kwargs(),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> JSONResponse:
    body, refused = await guarded(request)
    if refused:
        return refused
    with session_scope() as session:
        accounts.logout(session, request.cookies.get(security.SESSION_COOKIE))
    response = JSONResponse(
        {"ok": True, "redirect": security.safe_next(body.get("next"), AFTER_LOGOUT)}
    )
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(security.SESSION_COOKIE, **_cookie_kwargs())
    return response


__all__ = ["AUTH_PREFIX", "router"]
