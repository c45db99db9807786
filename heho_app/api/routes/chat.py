"""`POST /api/v1/chat` (HeHo's shape) and `POST /api/v1/chat/completions` (OpenAI's).

Both run the chat page's agent: the same grants, gate and audit. No conversation is
stored in the user's project, and a chatbot that asks before any write refuses
writes here (approvals exist only on the chat page). HeHo's tool calls happen inside
HeHo: callers get the answer, never a tool call to run. A client that goes away
cancels the turn, and so the upstream request.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Body, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from heho_app.api import API_PREFIX
from heho_app.api.deps import CurrentKey
from heho_app.api.errors import ApiError, error_body
from heho_app.api.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatErrorOut,
    ChatReply,
    ChatRequest,
    ChatUsage,
    CompletionChoice,
    CompletionChunkChoice,
    CompletionDelta,
    CompletionMessage,
    ErrorResponse,
    OpenAIErrorResponse,
    ToolActivityOut,
)
from heho_app.services.agent import (
    SCHEMA_MAX_AGE,
    AgentSetupError,
    ChatSession,
    TextChunk,
    ToolActivity,
    TurnEnd,
    TurnEvent,
    activity_summary,
    open_chat,
    run_turn,
)
from heho_app.services.openrouter import Usage

router = APIRouter(prefix=API_PREFIX, tags=["chat"])
# Its own router: app.py gives it OpenAI-shaped error responses in the spec.
completions_router = APIRouter(prefix=API_PREFIX, tags=["chat"])
T = TypeVar("T")

PURPOSE = "REST API chat"
CLIENT_CLOSED = 499  # nginx's "client closed request", for the access log only
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEY_REFUSED = (
    "OpenRouter refused the OpenRouter key stored in HeHo for this account. "
    "Save a valid key on HeHo's Keys page."
)
# Why a chatbot cannot chat: status, and the message for an API caller.
SETUP_ERRORS: dict[str, tuple[int, str | None]] = {
    "chatbot_not_found": (404, "No chatbot of yours has this id."),
    "no_openrouter_key": (
        409,
        "This account has no OpenRouter key: add one on HeHo's Keys page, then try again.",
    ),
    "no_connection": (409, None),
    "connection_failed": (502, None),
}
# A failed turn's error code (services.openrouter.ErrorInfo, or the agent's) -> status.
UPSTREAM_STATUS = {
    "insufficient_credits": 402,
    "moderation": 400,
    "rate_limited": 429,
    "timeout": 504,
    "no_provider": 503,
}


@dataclass(frozen=True)
class TurnFailure:
    status: int
    code: str
    message: str


def turn_failure(end: TurnEnd) -> TurnFailure:
    """What to tell an API caller about a failed turn; never a key."""
    if end.error_code == "invalid_key":
        return TurnFailure(502, "upstream_key_refused", KEY_REFUSED)
    code = end.error_code or "upstream_error"
    return TurnFailure(
        UPSTREAM_STATUS.get(code, 502), code, end.error_message or "The chatbot could not answer."
    )


async def _open(
    key: CurrentKey, chatbot_id: str, *, not_found_code: str = "not_found"
) -> ChatSession:
    try:
        return await open_chat(
            key.user_id, chatbot_id, purpose=PURPOSE, schema_max_age=SCHEMA_MAX_AGE
        )
    except AgentSetupError as error:
        status, message = SETUP_ERRORS.get(error.code, (409, None))
        code = not_found_code if status == 404 else error.code
        raise ApiError(status, message or error.message, code=code) from None


async def _close(chat: ChatSession, events: AsyncGenerator[TurnEvent, None]) -> None:
    """End the turn (closing its upstream request if still open) and the chat."""
    with anyio.CancelScope(shield=True):  # also when the client's departure cancelled us
        await events.aclose()
        await chat.aclose()


# --------------------------------------------------------------------------- disconnects


class _ClientGone(Exception):
    pass


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it (and raising `_ClientGone`) if the client leaves first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        task.cancel()  # no-op once done
        watcher.cancel()
    if task in done:
        return task.result()
    await asyncio.gather(task, return_exceptions=True)
    raise _ClientGone


class EventStream(StreamingResponse):
    """Server-sent events that stop as soon as the client disconnects, also while no
    event is being sent (a tool call, a slow model); stopping cancels the body
    iterator, and so the agent turn and its upstream request."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stream() -> None:
            with contextlib.suppress(OSError):  # the client is gone (ASGI spec 2.4 servers)
                await self.stream_response(send)
            group.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(stream)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


def _sse(data: str, event: str | None = None) -> str:
    return f"event: {event}\ndata: {data}\n\n" if event else f"data: {data}\n\n"


def _usage(usage: Usage | None) -> ChatUsage | None:
    if usage is None:
        return None
    return ChatUsage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


# --------------------------------------------------------------------------- POST /chat


def _tool_out(activity: ToolActivity) -> ToolActivityOut:
    return ToolActivityOut.model_validate(activity_summary(activity))


def _finish_reason(end: TurnEnd) -> Literal["stop", "length", "content_filter"]:
    """OpenAI's reason for a complete answer: cut off at `max_tokens` (`length`), by a
    filter (`content_filter`), or else `stop` (tool rounds happened inside HeHo)."""
    if end.finish_reason == "length":
        return "length"
    if end.finish_reason == "content_filter":
        return "content_filter"
    return "stop"


def _reply(chatbot_id: str, end: TurnEnd, tools: list[ToolActivityOut]) -> ChatReply:
    error = None
    if end.status != "complete":
        failure = turn_failure(end)
        error = ChatErrorOut(code=failure.code, message=failure.message)
    return ChatReply(
        chatbot_id=chatbot_id,
        status="complete" if end.status == "complete" else end.status,  # type: ignore[arg-type]
        content=end.content,
        finish_reason=_finish_reason(end) if error is None else None,
        tool_calls=tools,
        usage=_usage(end.usage),
        error=error,
    )


async def _collect(chatbot_id: str, events: AsyncIterator[TurnEvent]) -> ChatReply:
    tools: list[ToolActivityOut] = []
    async for event in events:
        if isinstance(event, ToolActivity):
            tools.append(_tool_out(event))
        elif isinstance(event, TurnEnd):
            return _reply(chatbot_id, event, tools)
    raise RuntimeError("the turn ended without a TurnEnd")


async def _chat_stream(
    chat: ChatSession, chatbot_id: str, events: AsyncGenerator[TurnEvent, None]
) -> AsyncIterator[str]:
    tools: list[ToolActivityOut] = []
    try:
        async for event in events:
            if isinstance(event, TextChunk):
                yield _sse(json.dumps({"text": event.text}), "text")
            elif isinstance(event, ToolActivity):
                tools.append(_tool_out(event))
                yield _sse(tools[-1].model_dump_json(), "tool")
            elif isinstance(event, TurnEnd):
                yield _sse(_reply(chatbot_id, event, tools).model_dump_json(), "end")
    finally:
        await _close(chat, events)


CHAT_EXAMPLE = {
    "chatbot_id": "8064f0bc376c40c787529c987ac05e82",
    "messages": [{"role": "user", "content": "What is the status of order 12?"}],
    "history": [],
    "stream": False,
}
CHAT_SSE_EXAMPLE = (
    'event: tool\ndata: {"name":"select_rows","table":"orders","outcome":"ok","count":1,'
    '"reason":""}\n\n'
    'event: text\ndata: {"text":"Order 12 "}\n\n'
    'event: text\ndata: {"text":"is shipped."}\n\n'
    'event: end\ndata: {"chatbot_id":"8064f0bc376c40c787529c987ac05e82","status":"complete",'
    '"content":"Order 12 is shipped.","finish_reason":"stop","tool_calls":[…],"usage":{…},'
    '"error":null}\n\n'
)


@router.post(
    "/chat",
    responses={
        200: {
            "description": "The answer: JSON, or with `stream: true` server-sent events: "
            "`text` (`{text}`), `tool` (one tool call, as in `tool_calls`) and a last "
            "`end` whose data is the whole reply, as the JSON answer would have been.",
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": CHAT_SSE_EXAMPLE}
            },
        },
        404: {"model": ErrorResponse, "description": "No chatbot of yours has this id."},
        409: {
            "model": ErrorResponse,
            "description": "The chatbot cannot chat yet: no OpenRouter key (`no_openrouter_key`) "
            "or no Supabase connection (`no_connection`).",
        },
        502: {
            "model": ErrorResponse,
            "description": "The chatbot's Supabase project is unreachable (`connection_failed`).",
        },
    },
)
async def chat(
    body: Annotated[ChatRequest, Body(openapi_examples={"question": {"value": CHAT_EXAMPLE}})],
    key: CurrentKey,
    request: Request,
) -> ChatReply:
    """Run one chat turn with one of your chatbots, as its chat page would.

    The last message is answered; `history` then the earlier `messages` are the
    conversation so far. Tool calls run inside HeHo under the chatbot's grants and
    are audited; `tool_calls` says what they did (counts and outcomes, never rows).
    A turn that fails after it started answers 200 with `status` and `error` (e.g.
    `upstream_key_refused` when OpenRouter refuses the stored key), keeping any
    partial text. Nothing is stored in your project. A chatbot that asks before any
    write refuses writes here: approvals exist only on the chat page.
    """
    chat_session = await _open(key, body.chatbot_id)
    history = [message.model_dump() for message in [*body.history, *body.messages[:-1]]]
    events = run_turn(chat_session, body.messages[-1].content, history=history)
    if body.stream:
        return EventStream(_chat_stream(chat_session, body.chatbot_id, events), headers=SSE_HEADERS)  # type: ignore[return-value]
    try:
        return await _unless_disconnected(request, _collect(body.chatbot_id, events))
    except _ClientGone:
        return Response(status_code=CLIENT_CLOSED)  # type: ignore[return-value]
    finally:
        await _close(chat_session, events)


# --------------------------------------------------------------------------- POST /chat/completions


def _turn_input(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]], str]:
    """The caller's instructions (system and developer messages), the history, the question."""
    instructions = "\n\n".join(
        m.plain_text for m in body.messages if m.role in ("system", "developer") and m.plain_text
    )
    spoken = [m for m in body.messages if m.role in ("user", "assistant") and m.plain_text]
    history = [{"role": m.role, "content": m.plain_text} for m in spoken[:-1]]
    return instructions, history, spoken[-1].plain_text


def _model_options(body: ChatCompletionRequest) -> dict[str, Any]:
    options = body.model_dump(
        include={"temperature", "top_p", "stop", "seed", "user"}, exclude_none=True
    )
    max_tokens = body.max_completion_tokens or body.max_tokens
    if max_tokens is not None:
        options["max_tokens"] = max_tokens
    return options


async def _first_output(events: AsyncIterator[TurnEvent]) -> TextChunk | TurnEnd:
    """The first text or the end, past tool activity (which callers never see)."""
    async for event in events:
        if isinstance(event, TextChunk | TurnEnd):
            return event
    raise RuntimeError("the turn ended without a TurnEnd")


def _failure_error(failure: TurnFailure) -> ApiError:
    return ApiError(failure.status, failure.message, code=failure.code)


@dataclass(frozen=True)
class _Completion:
    id: str
    created: int
    model: str

    def chunk(self, delta: CompletionDelta, finish_reason: str | None = None) -> str:
        choice = CompletionChunkChoice(delta=delta, finish_reason=finish_reason)  # type: ignore[arg-type]
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=[choice]
        )
        return _sse(chunk.model_dump_json(exclude_none=True))

    def usage_chunk(self, usage: Usage | None) -> str:
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=[], usage=_usage(usage)
        )
        return _sse(chunk.model_dump_json(exclude_none=True))


async def _completion_stream(
    chat: ChatSession,
    completion: _Completion,
    first: TextChunk | TurnEnd,
    events: AsyncGenerator[TurnEvent, None],
    include_usage: bool,
) -> AsyncIterator[str]:
    try:
        yield completion.chunk(CompletionDelta(role="assistant", content=""))
        event: TurnEvent = first
        while not isinstance(event, TurnEnd):
            if isinstance(event, TextChunk):
                yield completion.chunk(CompletionDelta(content=event.text))
            event = await anext(events)
        if event.status != "complete":
            # OpenAI's SDKs raise an APIError for a `data: {"error": …}` event.
            failure = turn_failure(event)
            path = f"{API_PREFIX}/chat/completions"
            yield _sse(json.dumps(error_body(path, failure.status, failure.code, failure.message)))
            return
        yield completion.chunk(CompletionDelta(), _finish_reason(event))
        if include_usage:
            yield completion.usage_chunk(event.usage)
        yield _sse("[DONE]")
    finally:
        await _close(chat, events)


COMPLETION_EXAMPLE = {
    "model": "8064f0bc376c40c787529c987ac05e82",
    "messages": [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": "What is the status of order 12?"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
}
COMPLETION_SSE_EXAMPLE = (
    'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","created":1764806400,'
    '"model":"8064f0bc376c40c787529c987ac05e82","choices":[{"index":0,'
    '"delta":{"role":"assistant","content":""}}]}\n\n'
    'data: {…,"choices":[{"index":0,"delta":{"content":"Order 12 is shipped."}}]}\n\n'
    'data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    'data: {…,"choices":[],"usage":{"prompt_tokens":412,"completion_tokens":9,'
    '"total_tokens":421}}\n\n'
    "data: [DONE]\n\n"
)


def _openai_error(description: str) -> dict[str, Any]:
    return {"model": OpenAIErrorResponse, "description": description}


@completions_router.post(
    "/chat/completions",
    responses={
        200: {
            "description": "A `chat.completion`, or with `stream: true` server-sent "
            "`chat.completion.chunk` events ending with `data: [DONE]` (the last chunk "
            "before it carries only `usage` when `stream_options.include_usage` is true). "
            'A failure after the stream began is a `data: {"error": …}` event.',
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string"},
                    "example": COMPLETION_SSE_EXAMPLE,
                }
            },
        },
        400: _openai_error("The model's provider refused the message (`moderation`)."),
        402: _openai_error("The OpenRouter account has no credits left."),
        404: _openai_error("No chatbot of yours has this id (`model_not_found`)."),
        409: _openai_error(
            "The chatbot cannot chat yet: no OpenRouter key or no Supabase connection."
        ),
        502: _openai_error(
            "OpenRouter refused the stored OpenRouter key (`upstream_key_refused`), the model "
            "or the chatbot's Supabase project failed."
        ),
        503: _openai_error("No provider can serve the chatbot's model right now."),
        504: _openai_error("The model took too long to answer."),
    },
)
async def chat_completions(
    body: Annotated[
        ChatCompletionRequest, Body(openapi_examples={"streamed": {"value": COMPLETION_EXAMPLE}})
    ],
    key: CurrentKey,
    request: Request,
) -> ChatCompletion:
    """OpenAI-compatible: point any OpenAI SDK at `/api/v1` with a HeHo API key and
    use a chatbot's id as `model`.

    System (and developer) messages are added after HeHo's own system prompt as
    extra instructions; they never replace it and cannot widen the chatbot's grants.
    The chatbot's tool calls run inside HeHo (gated and audited); only the final
    assistant text comes back, never a tool call. Errors have OpenAI's shape; an
    upstream failure before any text is an HTTP error (e.g. 502
    `upstream_key_refused`, 429, 402), one after it a `data: {"error": …}` event.
    """
    chat_session = await _open(key, body.model, not_found_code="model_not_found")
    instructions, history, question = _turn_input(body)
    events = run_turn(
        chat_session,
        question,
        history=history,
        instructions=instructions or None,
        model_options=_model_options(body),
    )
    completion = _Completion(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body.model)
    streaming = False
    try:
        first = await _unless_disconnected(request, _first_output(events))
        if isinstance(first, TurnEnd) and first.status != "complete":
            raise _failure_error(turn_failure(first))
        if body.stream:
            streaming = True
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            stream = _completion_stream(chat_session, completion, first, events, include_usage)
            return EventStream(stream, headers=SSE_HEADERS)  # type: ignore[return-value]
        end = first
        if not isinstance(end, TurnEnd):
            end = await _unless_disconnected(request, _turn_end(events))
        if end.status != "complete":
            raise _failure_error(turn_failure(end))
        return ChatCompletion(
            id=completion.id,
            created=completion.created,
            model=completion.model,
            choices=[
                CompletionChoice(
                    message=CompletionMessage(content=end.content),
                    finish_reason=_finish_reason(end),
                )
            ],
            usage=_usage(end.usage),
        )
    except _ClientGone:
        return Response(status_code=CLIENT_CLOSED)  # type: ignore[return-value]
    finally:
        if not streaming:
            await _close(chat_session, events)


async def _turn_end(events: AsyncIterator[TurnEvent]) -> TurnEnd:
    async for event in events:
        if isinstance(event, TurnEnd):
            return event
    raise RuntimeError("the turn ended without a TurnEnd")
