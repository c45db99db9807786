"""A local OpenRouter: a real HTTP server that speaks OpenRouter's protocol.

For tests, benchmarks and demos without an OpenRouter key. It serves
`POST /api/v1/chat/completions` (SSE streaming), `GET /api/v1/models` and
`GET /api/v1/key`, and answers each chat request with the next scripted `Step`, or,
when none is queued, with a demo answer chosen from the last message (see
`demo_step`). Admin endpoints for tests:

| endpoint | what |
|---|---|
| `POST /__scenario` | queue steps: a JSON list of `Step` objects, consumed one per chat request |
| `DELETE /__scenario` | drop the queued steps |
| `POST /__config` | `{"accepted_keys": [...] or null, "tokens_per_second": float or null}` |
| `GET /__requests` | every API request received, with its outcome |
| `POST /__reset` | forget requests, steps and config |

Each request record holds the method, path, headers (the `Authorization` value
replaced), the JSON body, timestamps, and `outcome`: `complete`, `http_error`,
`mid_stream_error`, `dropped` (the server cut the connection), or
`client_disconnected` (the client closed the connection before the end: how a test
proves that Stop closed the upstream request).

In-process use::

    with FakeOpenRouter() as server:        # a free loopback port, in a thread
        server.script({"text": "Hello"}, {"status": 429, "retry_after": "1"})
        ... stream_chat(key, model, messages, base_url=server.url) ...
        server.requests()

From the shell: `heho dev-llm --port 8765`, then `OPENROUTER_BASE_URL=http://127.0.0.1:8765/api/v1`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
TOOL_RESULT_PLACEHOLDER = "{last_tool_result}"

DEFAULT_MODELS: list[dict[str, Any]] = [
    {
        "id": "heho/fake-tools",
        "name": "HeHo Fake (tools)",
        "context_length": 128000,
        "pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0"},
        "supported_parameters": ["tools", "tool_choice", "temperature", "max_tokens"],
    },
    {
        "id": "heho/fake-chat",
        "name": "HeHo Fake (no tools)",
        "context_length": 32000,
        "pricing": {"prompt": "0", "completion": "0", "request": "0"},
        "supported_parameters": ["temperature", "max_tokens"],
    },
    {
        "id": "openrouter/auto",
        "name": "Auto Router",
        "context_length": 2000000,
        "pricing": {"prompt": "-1", "completion": "-1"},
        "supported_parameters": ["tools", "temperature"],
    },
]

_HTTP_ERROR_MESSAGES = {
    400: "Invalid request",
    401: "User not found.",
    402: "Insufficient credits. Add more using https://openrouter.ai/credits",
    403: "Your input was flagged by the provider's moderation.",
    404: "No endpoints found matching your data policy.",
    408: "Request timed out",
    429: "Rate limit exceeded: free-models-per-min.",
    502: "Provider returned error",
    503: "No instances available",
}


class ScriptedToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    """An object (sent as its JSON text) or the raw text, even invalid JSON."""
    id: str | None = None
    """Defaults to `call_<n>`."""


class Step(BaseModel):
    """One scripted answer to one `POST /chat/completions`.

    A 200 step streams `text` token by token (a token is a word with its trailing
    space), then each tool call: a first delta with `id` and `name`, then the
    arguments split over `argument_chunks` deltas; then the finish chunk, a usage
    chunk and `data: [DONE]`. `error_after` / `drop_after` count those chunks: one
    per token and per tool call delta, then the finish chunk, then the usage chunk.
    """

    model_config = ConfigDict(extra="forbid")

    status: int = 200
    """Not 200: an OpenRouter error body `{"error": {"code", "message", "metadata"}}`."""
    error_message: str | None = None
    """Message of the HTTP error or of the mid-stream error."""
    error_metadata: dict[str, Any] | None = None
    retry_after: str | None = None
    """`Retry-After` header of an HTTP error (seconds or an HTTP date)."""
    text: str = ""
    """`{last_tool_result}` in it is replaced by the content of the request's last tool
    message, so a scripted answer can show what a tool really returned."""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    argument_chunks: int = Field(default=3, ge=1)
    omit_index: bool = False
    """Tool call deltas carry no `index`; every one carries the call's `id` instead."""
    keepalives: int = Field(default=0, ge=0)
    """`: OPENROUTER PROCESSING` comments before the first token, spread over the delay."""
    first_token_delay: float = Field(default=0.0, ge=0)
    tokens_per_second: float | None = Field(default=None, ge=0)
    """None: the server's default; 0: as fast as possible."""
    error_after: int | None = Field(default=None, ge=0)
    """Send this many chunks, then an error chunk, then end the stream (no `[DONE]`)."""
    error_style: Literal["both", "finish_reason", "error_object"] = "both"
    """`both` is what OpenRouter sends: a top-level `error` and `finish_reason: "error"`."""
    drop_after: int | None = Field(default=None, ge=0)
    """Send this many chunks, then cut the connection without ending the body."""
    finish_reason: str | None = None
    """Defaults to `tool_calls` when there are tool calls, else `stop`."""
    usage: dict[str, Any] | None = None
    send_done: bool = True


_steps_adapter = TypeAdapter(list[Step])


class _ClientGone(Exception):
    """The client closed the connection while we were streaming."""


class _Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = target.split("?", 1)[0]
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            return None
        return value[7:].strip() or None


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _last_tool_result(body: Mapping[str, Any]) -> str:
    tool_messages = [
        m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "tool"
    ]
    return _text_of(tool_messages[-1]) if tool_messages else ""


_LOREM = (
    "HeHo streams this answer token by token from the local stand-in for OpenRouter, "
    "so that the chat page, the Stop button and the error display can be tried "
    "without a key. "
)
_TRIGGER_STATUS = re.compile(r"#(401|402|403|408|429|502|503)\b")


class FakeOpenRouter:
    """The server. `start()` runs it in a thread; `serve()` runs it in the current loop."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens_per_second: float | None = None,
        accepted_keys: list[str] | None = None,
        models: list[dict[str, Any]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._defaults = (tokens_per_second, accepted_keys)
        self.tokens_per_second = tokens_per_second
        self.accepted_keys: set[str] | None = set(accepted_keys) if accepted_keys else None
        self.models = models if models is not None else DEFAULT_MODELS
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._records: list[dict[str, Any]] = []
        self._failed_once: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ public API

    @property
    def url(self) -> str:
        """The base URL to use as OPENROUTER_BASE_URL."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script(self, *steps: Step | Mapping[str, Any]) -> None:
        """Queue answers for the next chat requests, in order."""
        parsed = [s if isinstance(s, Step) else Step.model_validate(s) for s in steps]
        with self._lock:
            self._steps.extend(parsed)

    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request records (see the module docstring)."""
        with self._lock:
            return json.loads(json.dumps(self._records))

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self._records.clear()
            self._failed_once.clear()
            self.tokens_per_second, keys = self._defaults
            self.accepted_keys = set(keys) if keys else None

    def start(self) -> Self:
        """Serve in a background thread; returns once the port is bound."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self.serve(ready.set))
            except Exception as exc:  # e.g. the port is taken: re-raised in start()
                errors.append(exc)
                ready.set()

        self._thread = threading.Thread(target=run, name="fake-openrouter", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise RuntimeError("the fake OpenRouter could not start") from errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def serve(self, on_ready: Callable[[], object] | None = None) -> None:
        """Serve until `stop()`; `on_ready()` is called once the port is bound."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            connections = list(self._connections)
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            await server.wait_closed()

    # ------------------------------------------------------------------ HTTP

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                keep_alive = await self._dispatch(request, reader, writer)
                if not keep_alive:
                    break
        except (ConnectionError, _ClientGone):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(
        self, request: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        path, method = request.path, request.method
        if path.startswith("/__"):
            status, payload = self._admin(method, path, request)
            await _send_json(writer, status, payload)
            return True
        route = path.removeprefix(API_PREFIX)
        if (method, route) not in {
            ("POST", "/chat/completions"),
            ("GET", "/models"),
            ("GET", "/key"),
        }:
            await _send_json(writer, 404, _error_body(404, f"no route {method} {path}"))
            return True
        record = self._record(request)
        if route == "/models":
            self._finish(record, 200, "complete")
            await _send_json(writer, 200, {"data": self.models})
            return True
        key_error = self._check_auth(request)
        if key_error is not None:
            self._finish(record, 401, "http_error")
            await _send_json(writer, 401, _error_body(401, key_error))
            return True
        if route == "/key":
            self._finish(record, 200, "complete")
            await _send_json(writer, 200, _key_body(request.bearer or ""))
            return True
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._finish(record, 400, "http_error")
            await _send_json(writer, 400, _error_body(400, "body must be a JSON object"))
            return True
        with self._lock:
            step = self._steps.popleft() if self._steps else None
            record["scripted"] = step is not None
        if step is None:
            step = self.demo_step(body)
        if step.status != 200:
            self._finish(record, step.status, "http_error")
            headers = {"Retry-After": step.retry_after} if step.retry_after else {}
            message = step.error_message or _HTTP_ERROR_MESSAGES.get(step.status, "Error")
            payload = _error_body(step.status, message, step.error_metadata)
            await _send_json(writer, step.status, payload, headers)
            return True
        if TOOL_RESULT_PLACEHOLDER in step.text:
            step = step.model_copy(
                update={"text": step.text.replace(TOOL_RESULT_PLACEHOLDER, _last_tool_result(body))}
            )
        await self._stream(step, body, record, reader, writer)
        return False

    def _check_auth(self, request: _Request) -> str | None:
        key = request.bearer
        if key is None:
            return "No auth credentials found"
        if self.accepted_keys is not None and key not in self.accepted_keys:
            return "User not found."
        return None

    def _record(self, request: _Request) -> dict[str, Any]:
        headers = dict(request.headers)
        if "authorization" in headers:
            scheme = headers["authorization"].split(" ", 1)[0]
            headers["authorization"] = f"{scheme} [redacted]"
        try:
            body = request.json()
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "headers": headers,
            "body": body,
            "received_at": time.time(),
            "status": None,
            "scripted": None,
            "outcome": "pending",
            "first_token_at": None,
            "ended_at": None,
        }
        with self._lock:
            record["id"] = len(self._records) + 1
            self._records.append(record)
        return record

    def _finish(self, record: dict[str, Any], status: int, outcome: str) -> None:
        with self._lock:
            record["status"] = status
            record["outcome"] = outcome
            record["ended_at"] = time.time()
        logger.info("%s %s -> %s %s", record["method"], record["path"], status, outcome)

    # ------------------------------------------------------------------ admin

    def _admin(self, method: str, path: str, request: _Request) -> tuple[int, Any]:
        try:
            if (method, path) == ("POST", "/__scenario"):
                steps = _steps_adapter.validate_python(request.json())
                with self._lock:
                    self._steps.extend(steps)
                    queued = len(self._steps)
                return 200, {"queued": queued}
            if (method, path) == ("DELETE", "/__scenario"):
                with self._lock:
                    self._steps.clear()
                return 200, {"queued": 0}
            if (method, path) == ("GET", "/__requests"):
                return 200, self.requests()
            if (method, path) == ("POST", "/__reset"):
                self.reset()
                return 200, {"reset": True}
            if (method, path) == ("POST", "/__config"):
                config = request.json()
                if "tokens_per_second" in config:
                    self.tokens_per_second = config["tokens_per_second"]
                if "accepted_keys" in config:
                    keys = config["accepted_keys"]
                    self.accepted_keys = set(keys) if keys is not None else None
                return 200, {"tokens_per_second": self.tokens_per_second}
        except ValidationError as exc:
            return 422, _error_body(422, str(exc))
        except (ValueError, TypeError, AttributeError) as exc:
            return 422, _error_body(422, f"bad admin request: {exc}")
        return 404, _error_body(404, f"no admin route {method} {path}")

    # ------------------------------------------------------------------ demo answers

    def demo_step(self, body: Mapping[str, Any]) -> Step:
        """The answer when nothing is scripted, chosen from the last message.

        A tool result is echoed back as a summary. In a user message: `#429`, `#502`
        or `#503` fail once then succeed; `#401`, `#402`, `#403`, `#408` fail;
        `#error` breaks mid-stream; `#drop` cuts the connection; `#slow` waits 3 s
        (with keepalives) before the first token; `#long` is a long answer;
        `#select <table>` calls select_rows; a question about tables calls list_tables
        (when the request offers those tools). Anything else gets an echo.
        """
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        tools = {
            t.get("function", {}).get("name")
            for t in body.get("tools") or []
            if isinstance(t, dict)
        }
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            result = _text_of(last)
            return Step(text=f"Here is what I found:\n\n```json\n{result[:2000]}\n```")
        text = _text_of(last)
        lowered = text.lower()
        if match := _TRIGGER_STATUS.search(lowered):
            status = int(match.group(1))
            if status in (429, 502, 503):
                marker = f"{status}:{text}"
                with self._lock:
                    failed_before = marker in self._failed_once
                    if failed_before:
                        self._failed_once.discard(marker)
                    else:
                        self._failed_once.add(marker)
                if failed_before:
                    return Step(text=f"Answered after a {status}, retried by HeHo. " + _LOREM)
                return Step(status=status, retry_after="1" if status == 429 else None)
            return Step(status=status)
        if "#error" in lowered:
            return Step(
                text=_LOREM, error_after=8, error_message="Provider disconnected unexpectedly"
            )
        if "#drop" in lowered:
            return Step(text=_LOREM, drop_after=8)
        if "#slow" in lowered:
            return Step(text=_LOREM, first_token_delay=3.0, keepalives=3)
        if "#long" in lowered:
            return Step(text=_LOREM * 12)
        if (match := re.search(r"#select\s+(\w+)", text)) and "select_rows" in tools:
            call = ScriptedToolCall(
                name="select_rows", arguments={"table": match.group(1), "limit": 20}
            )
            return Step(text="Reading the rows.", tool_calls=[call])
        if "table" in lowered and "list_tables" in tools:
            return Step(text="Let me look at your tables.", tool_calls=[{"name": "list_tables"}])
        return Step(
            text=f"You said: {text}\n\nI am HeHo's local stand-in for OpenRouter. Ask about "
            "your tables to see a tool call, or add #error, #drop, #slow, #long, #429 or "
            "#402 to a message to see how HeHo copes."
        )

    # ------------------------------------------------------------------ streaming

    async def _stream(
        self,
        step: Step,
        body: Mapping[str, Any],
        record: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        model = str(body.get("model") or "heho/fake-tools")
        generation_id = f"gen-{uuid.uuid4().hex[:16]}"
        rate = step.tokens_per_second
        if rate is None:
            rate = self.tokens_per_second
        interval = 1.0 / rate if rate else 0.0
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch_eof(reader, gone))

        async def send(payload: str) -> None:
            if gone.is_set():
                raise _ClientGone
            writer.write(b"%x\r\n%s\r\n" % (len(payload), payload.encode()))
            await writer.drain()

        async def pause(seconds: float) -> None:
            if seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), seconds)
            else:
                await asyncio.sleep(0)  # lets the EOF watcher run between instant chunks
            if gone.is_set():
                raise _ClientGone

        def envelope(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            chunk = {
                "id": generation_id,
                "provider": "HeHoFake",
                "model": model,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return f"data: {json.dumps(chunk)}\n\n"

        try:
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                b"X-Generation-Id: %s\r\nConnection: close\r\n\r\n" % generation_id.encode()
            )
            await writer.drain()
            with self._lock:
                record["status"] = 200
            for _ in range(step.keepalives):
                await pause(step.first_token_delay / (step.keepalives + 1))
                await send(": OPENROUTER PROCESSING\n\n")
            await pause(step.first_token_delay / (step.keepalives + 1))
            finish = step.finish_reason or ("tool_calls" if step.tool_calls else "stop")
            usage = step.usage or _usage(body, step)
            usage_chunk = {"id": generation_id, "model": model, "choices": [], "usage": usage}
            chunks = [envelope(delta) for delta in _deltas(step)]
            chunks.append(envelope({"content": ""}, finish))
            chunks.append(f"data: {json.dumps(usage_chunk)}\n\n")
            cut, ending = _ending(step, len(chunks))
            for sent, chunk in enumerate(chunks[:cut]):
                if sent:
                    await pause(interval)
                await send(chunk)
                if sent == 0:
                    with self._lock:
                        record["first_token_at"] = time.time()
            if ending == "error":
                await send(_error_chunk(step, generation_id, model))
                await send("")
                self._finish(record, 200, "mid_stream_error")
                return
            if ending == "drop":
                writer.transport.abort()
                self._finish(record, 200, "dropped")
                return
            if step.send_done:
                await send("data: [DONE]\n\n")
            await send("")  # the last chunk of a chunked body
            self._finish(record, 200, "complete")
        except (_ClientGone, ConnectionError):
            self._finish(record, 200, "client_disconnected")
        finally:
            watcher.cancel()


async def _watch_eof(reader: asyncio.StreamReader, gone: asyncio.Event) -> None:
    """Set `gone` when the client closes its side (nothing else is sent mid-stream)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    gone.set()


def _ending(step: Step, count: int) -> tuple[int, Literal["finish", "error", "drop"]]:
    """How many chunks to send, and how the stream ends after them."""
    if step.error_after is not None and (
        step.drop_after is None or step.error_after <= step.drop_after
    ):
        return min(step.error_after, count), "error"
    if step.drop_after is not None:
        return min(step.drop_after, count), "drop"
    return count, "finish"


def _tokens(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


def _deltas(step: Step) -> Iterator[dict[str, Any]]:
    first = True
    for token in _tokens(step.text):
        yield {"role": "assistant", "content": token} if first else {"content": token}
        first = False
    for index, call in enumerate(step.tool_calls):
        call_id = call.id or f"call_{index}"
        arguments = (
            call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        )
        size = max(1, -(-len(arguments) // step.argument_chunks))
        pieces = [arguments[i : i + size] for i in range(0, len(arguments), size)]
        position: dict[str, Any] = {"id": call_id} if step.omit_index else {"index": index}
        opening = {
            **position,
            "id": call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield {"role": "assistant", "tool_calls": [opening]} if first else {"tool_calls": [opening]}
        first = False
        for piece in pieces:
            yield {"tool_calls": [{**position, "function": {"arguments": piece}}]}


def _error_chunk(step: Step, generation_id: str, model: str) -> str:
    error = {"code": "server_error", "message": step.error_message or "Provider error"}
    chunk: dict[str, Any] = {"id": generation_id, "model": model, "provider": "HeHoFake"}
    if step.error_style in ("both", "error_object"):
        chunk["error"] = error
    if step.error_style in ("both", "finish_reason"):
        chunk["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]
    return f"data: {json.dumps(chunk)}\n\n"


def _usage(body: Mapping[str, Any], step: Step) -> dict[str, Any]:
    prompt = sum(len(_text_of(m).split()) for m in body.get("messages") or [])
    completion = len(_tokens(step.text)) + sum(
        len(json.dumps(c.arguments).split()) for c in step.tool_calls
    )
    total = prompt + completion
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cost": round(total * 0.000001, 8),
    }


def _error_body(status: int, message: str, metadata: Mapping[str, Any] | None = None):
    error: dict[str, Any] = {"code": status, "message": message}
    if metadata:
        error["metadata"] = dict(metadata)
    return {"error": error}


def _key_body(key: str) -> dict[str, Any]:
    label = f"{key[:8]}...{key[-3:]}" if len(key) > 14 else "sk-or-..."
    return {
        "data": {
            "label": label,
            "usage": 0.25,
            "limit": None,
            "limit_remaining": None,
            "is_free_tier": False,
        }
    }


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request, or None when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    try:
        method, target, _version = request_line.split(" ", 2)
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
    except (ValueError, asyncio.IncompleteReadError):
        return None  # not HTTP we understand: drop the connection
    return _Request(method, target, headers, body)


async def _send_json(
    writer: asyncio.StreamWriter,
    status: int,
    payload: Any,
    headers: Mapping[str, str] | None = None,
) -> None:
    data = json.dumps(payload).encode()
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head.append(f"Content-Length: {len(data)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
    await writer.drain()


# ---------------------------------------------------------------------- `heho dev-llm`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=30.0,
        help="streaming speed of demo answers; 0 for instant (benchmarks)",
    )
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="accept only this API key (repeatable); by default any key is accepted",
    )


def run_dev_llm(args: argparse.Namespace) -> int:
    """Run the local OpenRouter in the foreground until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = FakeOpenRouter(
        args.host,
        args.port,
        tokens_per_second=args.tokens_per_second or None,
        accepted_keys=args.keys,
    )

    def ready() -> None:
        print(f"Local OpenRouter listening. Use:\n  OPENROUTER_BASE_URL={server.url}", flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        await server.serve(ready)

    asyncio.run(main())
    return 0
