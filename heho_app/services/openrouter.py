"""OpenRouter client: streamed chat completions, the model list and the key check.

Plain async httpx, no Reflex. The API key is an argument of every call: it is sent
in the `Authorization` header and nowhere else, never logged, and scrubbed from any
provider text that ends up in an error message.

A chat turn is consumed as a stream of typed events::

    turn = ChatTurn()
    async with aclosing(stream_chat(key, model, messages, tools)) as events:
        async for event in events:
            turn.apply(event)          # accumulates content, tool calls, usage, status
            if isinstance(event, TextDelta):
                ...                    # show event.text
    if turn.status == "complete" and turn.tool_calls:
        messages.append(turn.assistant_message())
        ...                            # run the tools, append their results, call again

`stream_chat` never raises for upstream trouble: a malformed key, HTTP errors, a
provider error in the middle of the stream and a dropped connection all end the stream
with a `Finish` event whose status is `failed` or `interrupted` and whose `error`
holds a stable code and a message a user understands. Cancelling the consuming task
(the user pressed Stop) closes the upstream request at once; use `contextlib.aclosing`
so that this also happens when the consumer stops iterating early.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from heho_app.services.http_client import async_client, tls_problem
from heho_app.settings import get_settings

logger = logging.getLogger(__name__)

TurnStatus = Literal["complete", "failed", "interrupted"]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=30.0, pool=10.0)
"""`read` is the longest silence tolerated between two chunks; OpenRouter sends
keepalive comments every few seconds while a model is thinking."""

MODEL_CACHE_TTL = 600.0
RETRYABLE_STATUSES = frozenset({429, 502, 503})
_DETAIL_LIMIT = 500


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ErrorInfo:
    """What went wrong, for people (`message`) and for code (`code`).

    Codes: `invalid_key`, `insufficient_credits`, `moderation`, `bad_request`,
    `not_found`, `timeout`, `rate_limited`, `provider_error`, `no_provider`,
    `upstream_error`, `connection_failed`, `interrupted`.
    """

    code: str
    message: str
    status: int | None = None
    """HTTP status of the failed request; None for a mid-stream or connection error."""
    detail: str | None = None
    """The provider's own words, key removed and shortened; may be technical."""
    retry_after: float | None = None
    retryable: bool = False


class OpenRouterError(Exception):
    """Raised by `list_models` and `check_key`; `str()` is the user-facing message."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info

    @property
    def code(self) -> str:
        return self.info.code


def _redact(text: str, api_key: str | None) -> str:
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return text[:_DETAIL_LIMIT]


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _status_error(
    status: int, detail: str | None, metadata: Mapping[str, Any], retry_after: float | None
) -> ErrorInfo:
    """Turn an HTTP error status into an ErrorInfo a user can act on."""
    retryable = status in RETRYABLE_STATUSES
    if status == 401:
        code, message = (
            "invalid_key",
            "OpenRouter did not accept the API key. Check the key saved in your settings.",
        )
    elif status == 402:
        code, message = (
            "insufficient_credits",
            "Your OpenRouter account does not have enough credits for this request. "
            "Add credits on openrouter.ai, or choose a cheaper or free model.",
        )
    elif status == 403:
        reasons = metadata.get("reasons")
        flagged = (
            f" (flagged: {', '.join(str(r) for r in reasons)})"
            if isinstance(reasons, list) and reasons
            else ""
        )
        code, message = (
            "moderation",
            f"The model's provider refused this message under its content policy{flagged}. "
            "Rephrase it and try again.",
        )
    elif status == 408:
        code, message = (
            "timeout",
            "The model took too long to answer and OpenRouter gave up. Try again, "
            "or choose a faster model.",
        )
    elif status == 429:
        wait = f" Try again in {round(retry_after)} seconds." if retry_after else " Try again soon."
        code, message = (
            "rate_limited",
            "Too many requests: OpenRouter or the model's provider is rate limiting." + wait,
        )
    elif status == 502:
        code, message = (
            "provider_error",
            "The model's provider is down or sent an invalid answer. Try again, "
            "or choose another model.",
        )
    elif status == 503:
        code, message = (
            "no_provider",
            "No provider can serve this model right now. Try again later, or choose another model.",
        )
    elif status == 400:
        code, message = ("bad_request", "OpenRouter rejected the request" + _suffix(detail))
    elif status == 404:
        code, message = ("not_found", "OpenRouter has no such model or endpoint" + _suffix(detail))
    else:
        code, message = (
            "upstream_error",
            f"OpenRouter answered with an unexpected error (HTTP {status}). Try again.",
        )
    return ErrorInfo(code, message, status, detail, retry_after, retryable)


def _suffix(detail: str | None) -> str:
    return f": {detail}" if detail else "."


async def _error_from_response(response: httpx.Response, api_key: str | None) -> ErrorInfo:
    """Read an error response's body (OpenRouter: `{"error": {"message", "metadata"}}`)."""
    raw = (await response.aread())[:16_384]
    detail: str | None = None
    metadata: Mapping[str, Any] = {}
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        if error.get("message"):
            detail = _redact(str(error["message"]), api_key)
        if isinstance(error.get("metadata"), dict):
            metadata = error["metadata"]
    elif raw.strip():
        detail = _redact(raw.decode("utf-8", "replace").strip(), api_key)
    retry_after = _parse_retry_after(response.headers.get("retry-after"))
    return _status_error(response.status_code, detail, metadata, retry_after)


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class ToolCall:
    """One complete tool call, as the model asked for it."""

    id: str
    name: str
    arguments: str
    """The JSON text the model wrote; may be invalid, see `parsed_arguments`."""

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; ValueError (with a message for the model) if not."""
        try:
            value = json.loads(self.arguments or "{}")
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            raise ValueError(f"arguments of {self.name} are not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"arguments of {self.name} must be a JSON object")
        return value

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI wire format, for the assistant message sent back to the model."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None
    """USD, when OpenRouter reports it."""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Usage:
        def number(key: str) -> int:
            value = data.get(key)
            return int(value) if isinstance(value, int | float) else 0

        cost = data.get("cost")
        prompt, completion = number("prompt_tokens"), number("completion_tokens")
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=number("total_tokens") or prompt + completion,
            cost=float(cost) if isinstance(cost, int | float) else None,
        )


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of a tool call while it streams (for a "calling X…" indicator).

    `position` is the call's place in the turn's tool call list; `name` is set once known.
    """

    position: int
    id: str | None
    name: str | None
    arguments_delta: str


@dataclass(frozen=True)
class ToolCallComplete:
    """A fully assembled tool call; sent just before `Finish`, only for a complete turn."""

    tool_call: ToolCall


@dataclass(frozen=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True)
class Retrying:
    """The request failed with a retryable error and will be sent again after `delay` s."""

    attempt: int
    """The attempt that failed, from 1."""
    delay: float
    error: ErrorInfo


@dataclass(frozen=True)
class Finish:
    """Always the last event of a stream (unless the stream was cancelled)."""

    status: TurnStatus
    finish_reason: str | None = None
    """The model's reason: `stop`, `tool_calls`, `length`, `content_filter`, `error`…"""
    error: ErrorInfo | None = None
    model: str | None = None
    """The model that answered, as OpenRouter reports it."""
    generation_id: str | None = None


StreamEvent = TextDelta | ToolCallDelta | ToolCallComplete | UsageReport | Retrying | Finish


@dataclass
class ChatTurn:
    """Accumulates a turn from its events; holds the partial answer if the turn is cut."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    status: TurnStatus | None = None
    """None while the turn is still streaming (or when it was cancelled)."""
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    model: str | None = None
    generation_id: str | None = None
    retries: int = 0

    def apply(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            self.content += event.text
        elif isinstance(event, ToolCallComplete):
            self.tool_calls.append(event.tool_call)
        elif isinstance(event, UsageReport):
            self.usage = event.usage
        elif isinstance(event, Retrying):
            self.retries += 1
        elif isinstance(event, Finish):
            self.status = event.status
            self.finish_reason = event.finish_reason
            self.error = event.error
            self.model = event.model
            self.generation_id = event.generation_id

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message in OpenAI format, to append to the history."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        return message


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429, 502, 503 and refused connections, before any token arrived."""

    max_attempts: int = 3
    """Attempts in all, the first included."""
    base_delay: float = 1.0
    max_delay: float = 10.0
    max_retry_after: float = 30.0
    """A longer `Retry-After` is not waited for: the turn fails with `rate_limited`."""
    jitter: float = 0.2
    """Backoff delays are shortened by up to this fraction, so clients spread out."""

    def delay_for(self, error: ErrorInfo, attempt: int) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            return None if error.retry_after > self.max_retry_after else error.retry_after
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (1 - self.jitter * random.random())  # noqa: S311 - jitter  # nosec B311


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    context_length: int | None
    prompt_price: float | None
    """USD per prompt token; None when unknown or variable (routers)."""
    completion_price: float | None
    supports_tools: bool
    """`tools` is among the model's supported parameters: usable for a database chatbot."""


@dataclass(frozen=True)
class KeyInfo:
    label: str | None
    usage: float | None
    """USD spent with the key."""
    limit: float | None
    """USD credit limit of the key; None for unlimited."""
    limit_remaining: float | None
    is_free_tier: bool


# --------------------------------------------------------------------------- HTTP plumbing

_shared_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _shared_client() -> httpx.AsyncClient:
    """One pooled client per event loop, so consecutive turns reuse connections."""
    loop = asyncio.get_running_loop()
    client = _shared_clients.get(loop)
    if client is None or client.is_closed:
        client = async_client(DEFAULT_TIMEOUT)
        _shared_clients[loop] = client
    return client


async def aclose_shared_client() -> None:
    """Close this event loop's pooled client (call from the app's shutdown hook)."""
    client = _shared_clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def _base_url(base_url: str | None) -> str:
    return (base_url or get_settings().openrouter_base_url).rstrip("/")


def _headers(api_key: str | None) -> dict[str, str]:
    settings = get_settings()
    headers = {"HTTP-Referer": settings.public_url, "X-Title": settings.app_title}
    if api_key is not None:
        if not api_key or not api_key.isascii() or not api_key.isprintable() or " " in api_key:
            # httpx would put the offending header value into its exception text.
            raise OpenRouterError(
                ErrorInfo(
                    "invalid_key",
                    "The OpenRouter API key is malformed: it is empty or contains spaces "
                    "or characters an API key cannot have.",
                )
            )
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _connection_error(url: str, exc: httpx.TransportError) -> ErrorInfo:
    host = urlsplit(url).netloc
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return replace(_status_error(408, None, {}, None), status=None)
    if problem := tls_problem(exc):
        return ErrorInfo(
            "connection_failed", f"Could not connect securely to OpenRouter at {host}: {problem}."
        )
    return ErrorInfo(
        "connection_failed",
        f"Could not reach OpenRouter at {host}. Check the network and OPENROUTER_BASE_URL.",
        detail=type(exc).__name__,
        retryable=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
    )


async def _get_json(
    path: str, api_key: str | None, base_url: str | None, client: httpx.AsyncClient | None
) -> Any:
    url = f"{_base_url(base_url)}{path}"
    headers = _headers(api_key)
    http = client or _shared_client()
    try:
        response = await http.get(url, headers=headers)
    except httpx.TransportError as exc:
        raise OpenRouterError(_connection_error(url, exc)) from None
    if response.status_code != 200:
        raise OpenRouterError(await _error_from_response(response, api_key))
    try:
        return response.json()
    except ValueError:
        raise OpenRouterError(
            ErrorInfo("upstream_error", "OpenRouter sent an unreadable answer.", 200)
        ) from None


# --------------------------------------------------------------------------- streaming


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` payloads of an SSE stream.

    Every other line is ignored: comments (`: OPENROUTER PROCESSING`), `event:`, `id:`.
    """
    buffer: list[str] = []
    async for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
        elif line.startswith("data:"):
            value = line[5:]
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


@dataclass
class _PartialCall:
    id: str | None = None
    name: str = ""
    arguments: str = ""


class _ToolCallAssembler:
    """Joins tool call deltas: by `index`, else by `id`, else onto the last call."""

    def __init__(self) -> None:
        self.calls: list[_PartialCall] = []
        self._by_index: dict[int, int] = {}
        self._by_id: dict[str, int] = {}

    def add(self, delta: Mapping[str, Any]) -> ToolCallDelta:
        index = delta.get("index") if isinstance(delta.get("index"), int) else None
        call_id = delta.get("id") or None
        position: int | None = None
        if call_id is not None and call_id in self._by_id:
            position = self._by_id[call_id]
        elif index is not None and index in self._by_index:
            position = self._by_index[index]
            known_id = self.calls[position].id
            if call_id is not None and known_id is not None and call_id != known_id:
                position = None  # some providers reuse index 0 for every parallel call
        elif index is None and call_id is None and self.calls:
            position = len(self.calls) - 1
        if position is None:
            position = len(self.calls)
            self.calls.append(_PartialCall())
        call = self.calls[position]
        if index is not None:
            self._by_index[index] = position
        if call_id is not None and call.id is None:
            call.id = call_id
            self._by_id[call_id] = position
        function = delta.get("function") or {}
        if function.get("name"):
            call.name = str(function["name"])
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a few providers send an object
            arguments = json.dumps(arguments)
        call.arguments += arguments
        return ToolCallDelta(position, call.id, call.name or None, arguments)

    def complete(self) -> list[ToolCall]:
        result = []
        for position, call in enumerate(self.calls):
            if not call.name:
                logger.warning("dropping a tool call without a function name")
                continue
            result.append(
                ToolCall(call.id or f"call_{position}", call.name, call.arguments or "{}")
            )
        return result


async def _read_stream(response: httpx.Response, api_key: str) -> AsyncIterator[StreamEvent]:
    """Events of one 200 response; always ends with a Finish."""
    assembler = _ToolCallAssembler()
    finish_reason: str | None = None
    model: str | None = None
    generation_id: str | None = response.headers.get("x-generation-id")
    done = False

    def finish(status: TurnStatus, error: ErrorInfo | None = None) -> Finish:
        return Finish(status, finish_reason, error, model, generation_id)

    try:
        async for data in _sse_data(response.aiter_lines()):
            if data.strip() == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                logger.warning("skipping an unreadable stream chunk (%d bytes)", len(data))
                continue
            if not isinstance(chunk, dict):
                continue
            model = chunk.get("model") or model
            generation_id = chunk.get("id") or generation_id
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    yield TextDelta(str(delta["content"]))
                for tool_delta in delta.get("tool_calls") or []:
                    yield assembler.add(tool_delta)
                finish_reason = choice.get("finish_reason") or finish_reason
            if isinstance(chunk.get("usage"), dict):
                yield UsageReport(Usage.from_api(chunk["usage"]))
            error = chunk.get("error")
            if error or finish_reason == "error":
                detail = None
                if isinstance(error, dict) and error.get("message"):
                    detail = _redact(str(error["message"]), api_key)
                elif isinstance(error, str):
                    detail = _redact(error, api_key)
                message = "The model's provider failed while answering" + _suffix(detail)
                yield finish("failed", ErrorInfo("provider_error", message, None, detail))
                return
    except httpx.TransportError as exc:
        logger.info("OpenRouter stream cut: %s", type(exc).__name__)
        if finish_reason is None:  # else the answer was whole: only usage or [DONE] is lost
            message = (
                "OpenRouter stopped sending data before the answer was complete."
                if isinstance(exc, httpx.TimeoutException)
                else "The connection to OpenRouter was lost before the answer was complete."
            )
            error = ErrorInfo("interrupted", message, detail=type(exc).__name__)
            yield finish("interrupted", error)
            return
    if not done and finish_reason is None:
        message = "OpenRouter ended the stream before the answer was complete."
        yield finish("interrupted", ErrorInfo("interrupted", message))
        return
    for call in assembler.complete():
        yield ToolCallComplete(call)
    yield finish("complete")


async def stream_chat(
    api_key: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    temperature: float | None = None,
    *,
    extra_body: Mapping[str, Any] | None = None,
    base_url: str | None = None,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[StreamEvent]:
    """Stream one chat completion from OpenRouter as typed events ending with `Finish`.

    `messages` and `tools` are in OpenAI format. `extra_body` adds request fields
    (`max_tokens`, `tool_choice`, `provider`…). Errors before the first byte of the
    answer are retried per `retry` (a `Retrying` event each time); an error once
    the answer streams is not retried, the partial answer stands. Never raises for
    upstream trouble or a malformed key (a `Finish` tells); propagates cancellation.
    """
    try:
        headers = _headers(api_key)
    except OpenRouterError as exc:
        yield Finish("failed", error=exc.info)
        return
    url = f"{_base_url(base_url)}/chat/completions"
    body: dict[str, Any] = {
        "model": model,
        "messages": list(messages),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = list(tools)
    if temperature is not None:
        body["temperature"] = temperature
    body.update(extra_body or {})
    http = client or _shared_client()
    policy = retry or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        try:
            async with http.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code == 200:
                    async for event in _read_stream(response, api_key):
                        yield event
                    return
                error = await _error_from_response(response, api_key)
        except httpx.TransportError as exc:
            error = _connection_error(url, exc)
        delay = policy.delay_for(error, attempt)
        logger.warning(
            "OpenRouter chat request failed: %s (HTTP %s), attempt %d%s",
            error.code,
            error.status,
            attempt,
            f", retrying in {delay:.1f}s" if delay is not None else "",
        )
        if delay is None:
            yield Finish("failed", error=error)
            return
        yield Retrying(attempt, delay, error)
        await asyncio.sleep(delay)


async def complete_chat(
    api_key: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    temperature: float | None = None,
    **options: Any,
) -> ChatTurn:
    """Run `stream_chat` to its end and return the accumulated turn.

    For callers that need no live tokens. On cancellation the partial turn is lost:
    a caller that must keep it iterates `stream_chat` into its own `ChatTurn`.
    """
    turn = ChatTurn()
    stream = stream_chat(api_key, model, messages, tools, temperature, **options)
    try:
        async for event in stream:
            turn.apply(event)
    finally:
        await stream.aclose()
    return turn


# --------------------------------------------------------------------------- models and key

_model_cache: dict[str, tuple[float, list[ModelInfo]]] = {}


def _price(value: Any) -> float | None:
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    return price if price >= 0 else None


def _model_from_api(item: Mapping[str, Any]) -> ModelInfo:
    pricing = item.get("pricing") or {}
    context = item.get("context_length")
    return ModelInfo(
        id=str(item["id"]),
        name=str(item.get("name") or item["id"]),
        context_length=int(context) if isinstance(context, int | float) else None,
        prompt_price=_price(pricing.get("prompt")),
        completion_price=_price(pricing.get("completion")),
        supports_tools="tools" in (item.get("supported_parameters") or []),
    )


async def list_models(
    *,
    base_url: str | None = None,
    client: httpx.AsyncClient | None = None,
    ttl: float = MODEL_CACHE_TTL,
    refresh: bool = False,
) -> list[ModelInfo]:
    """OpenRouter's models, cached in-process for `ttl` seconds per base URL.

    Raises OpenRouterError when the list cannot be fetched.
    """
    base = _base_url(base_url)
    cached = _model_cache.get(base)
    if cached and not refresh and time.monotonic() - cached[0] < ttl:
        return list(cached[1])
    payload = await _get_json("/models", None, base, client)
    items = payload.get("data") if isinstance(payload, dict) else None
    models = [
        _model_from_api(item) for item in items or [] if isinstance(item, dict) and item.get("id")
    ]
    _model_cache[base] = (time.monotonic(), models)
    return list(models)


def clear_model_cache() -> None:
    _model_cache.clear()


async def check_key(
    api_key: str, *, base_url: str | None = None, client: httpx.AsyncClient | None = None
) -> KeyInfo:
    """Ask OpenRouter about a key before it is saved.

    Raises OpenRouterError: code `invalid_key` when OpenRouter refuses the key.
    """
    payload = await _get_json("/key", api_key, base_url, client)
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise OpenRouterError(
            ErrorInfo("upstream_error", "OpenRouter sent an unreadable answer.", 200)
        )

    def amount(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    return KeyInfo(
        label=str(data["label"]) if data.get("label") is not None else None,
        usage=amount("usage"),
        limit=amount("limit"),
        limit_remaining=amount("limit_remaining"),
        is_free_tier=bool(data.get("is_free_tier")),
    )
