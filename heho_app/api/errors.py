"""Every error of the REST API is JSON `{"error": {"code", "message"}}`.

Validation errors add `details` (where and what, never the offending input, which
may be a secret). Paths that speak OpenAI's protocol get OpenAI's error shape
(`{"error": {"message", "type", "param", "code"}}`) so that its SDKs can read them.
Nothing here ever includes a stack trace.
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from heho_app.api import API_PREFIX

# Paths whose errors take OpenAI's shape.
OPENAI_STYLE_PATHS = frozenset({f"{API_PREFIX}/chat/completions"})

CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
INVALID_KEY_MESSAGE = "A valid API key is required: send 'Authorization: Bearer <key>'."
INTERNAL_MESSAGE = "Something went wrong on our side; the error was logged."


class ApiError(Exception):
    """Raise in a route or dependency to answer with this status and error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.headers = dict(headers or {})


def _openai_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(
    path: str,
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    if path in OPENAI_STYLE_PATHS:
        param = ".".join(str(part) for part in details[0]["loc"]) if details else None
        return {
            "error": {
                "message": message,
                "type": _openai_type(status),
                "param": param,
                "code": code,
            }
        }
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = list(details)
    return {"error": error}


def error_response(
    path: str,
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(path, status, code or CODES.get(status, "error"), message, details),
        status_code=status,
        headers=dict(headers or {}),
    )


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Where and what is wrong, without echoing the input."""
    return [
        {"loc": list(error.get("loc", ())), "message": error.get("msg", ""), "type": error["type"]}
        for error in errors
    ]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        request.url.path, exc.status, exc.message, code=exc.code, headers=exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(request.url.path, exc.status_code, message, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    first = details[0] if details else None
    message = (
        f"The request is not valid: {'.'.join(map(str, first['loc']))}: {first['message']}"
        if first
        else "The request is not valid."
    )
    return error_response(request.url.path, 422, message, details=details)


def install_error_handlers(api: FastAPI) -> None:
    """Errors raised inside routes; the guard middleware answers 500s and its own refusals."""
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(StarletteHTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
