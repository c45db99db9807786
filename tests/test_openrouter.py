"""The OpenRouter client against the local OpenRouter, over real HTTP."""

import asyncio
import logging
import socket
import time
from contextlib import aclosing, nullcontext

import httpx
import pytest

from heho_app.cli import build_parser
from heho_app.devtools.fake_openrouter import FakeOpenRouter
from heho_app.services.openrouter import (
    ChatTurn,
    Finish,
    OpenRouterError,
    Retrying,
    RetryPolicy,
    TextDelta,
    ToolCallComplete,
    ToolCallDelta,
    UsageReport,
    _sse_data,
    _ToolCallAssembler,
    check_key,
    clear_model_cache,
    complete_chat,
    list_models,
    stream_chat,
)
from heho_app.settings import get_settings
from tests.fixtures.chat import wait_for

KEY = "sk-or-v1-0123456789abcdef-SECRET"
MODEL = "heho/fake-tools"
FAST = RetryPolicy(base_delay=0.05, max_delay=0.1)
QUESTION = [{"role": "user", "content": "hello"}]
LIST_TABLES = {
    "type": "function",
    "function": {
        "name": "list_tables",
        "description": "List the tables",
        "parameters": {"type": "object", "properties": {}},
    },
}


@pytest.fixture(scope="session")
def server():
    with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()
    clear_model_cache()


async def collect(server, messages=QUESTION, **kwargs):
    """All events of one stream, and the turn they add up to."""
    kwargs.setdefault("retry", FAST)
    events = []
    turn = ChatTurn()
    async with aclosing(stream_chat(KEY, MODEL, messages, base_url=server.url, **kwargs)) as stream:
        async for event in stream:
            events.append(event)
            turn.apply(event)
    return events, turn


def chat_requests(server):
    return [r for r in server.requests() if r["path"].endswith("/chat/completions")]


# ---------------------------------------------------------------- plain answers


async def test_plain_answer_keepalives_ignored_and_usage_captured(server):
    server.script({"text": "Hello there, world.", "keepalives": 3, "first_token_delay": 0.15})
    events, turn = await collect(server)

    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert texts == ["Hello ", "there, ", "world."]
    assert turn.content == "Hello there, world."
    assert turn.status == "complete" and turn.error is None
    assert turn.finish_reason == "stop"
    assert turn.model == MODEL and turn.generation_id.startswith("gen-")
    usage_events = [e for e in events if isinstance(e, UsageReport)]
    assert len(usage_events) == 1
    assert turn.usage.completion_tokens == 3
    assert turn.usage.total_tokens == turn.usage.prompt_tokens + 3
    assert turn.usage.cost is not None
    assert isinstance(events[-1], Finish)
    assert turn.assistant_message() == {"role": "assistant", "content": "Hello there, world."}


async def test_fake_server_really_sends_keepalive_comments(server):
    server.script({"text": "hi", "keepalives": 2})
    body = {"model": MODEL, "messages": QUESTION, "stream": True}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/chat/completions", json=body, headers=headers)
    assert response.text.startswith(": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n")
    assert response.text.endswith("data: [DONE]\n\n")


async def test_request_carries_headers_and_body(server):
    server.script({"text": "ok"})
    await collect(server, tools=[LIST_TABLES], temperature=0.2, extra_body={"max_tokens": 50})

    (request,) = chat_requests(server)
    headers, body = request["headers"], request["body"]
    settings = get_settings()
    assert headers["http-referer"] == settings.public_url
    assert headers["x-title"] == settings.app_title
    assert headers["authorization"] == "Bearer [redacted]"
    assert body["model"] == MODEL and body["stream"] is True
    assert body["messages"] == QUESTION
    assert body["tools"] == [LIST_TABLES]
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert body["stream_options"] == {"include_usage": True}


async def test_slow_first_token_and_token_rate(server):
    server.script({"text": "one two three four five", "first_token_delay": 0.3, "keepalives": 2})
    server.script({"text": "a " * 20, "tokens_per_second": 100})

    started = time.monotonic()
    async with aclosing(stream_chat(KEY, MODEL, QUESTION, base_url=server.url)) as stream:
        async for event in stream:
            if isinstance(event, TextDelta):
                first_token = time.monotonic() - started
                break
    assert first_token >= 0.3

    started = time.monotonic()
    _, turn = await collect(server)
    assert turn.content == "a " * 20
    assert 0.18 <= time.monotonic() - started < 2  # 19 gaps of 10 ms


async def test_complete_chat_helper(server):
    server.script({"text": "All in one go."})
    turn = await complete_chat(KEY, MODEL, QUESTION, base_url=server.url)
    assert turn.content == "All in one go." and turn.status == "complete"


async def test_missing_done_after_finish_is_still_complete(server):
    server.script({"text": "no done line", "send_done": False})
    _, turn = await collect(server)
    assert turn.status == "complete" and turn.content == "no done line"


# ---------------------------------------------------------------- tool calls


@pytest.mark.parametrize("omit_index", [False, True], ids=["by-index", "by-id"])
async def test_tool_call_deltas_assembled(server, omit_index):
    server.script(
        {
            "text": "Looking.",
            "omit_index": omit_index,
            "argument_chunks": 4,
            "tool_calls": [
                {"name": "select_rows", "arguments": {"table": "orders", "limit": 5}},
                {"name": "describe_table", "arguments": {"table": "customers"}, "id": "c-7"},
            ],
        }
    )
    events, turn = await collect(server, tools=[LIST_TABLES])

    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(deltas) > 4  # arguments really arrived in pieces
    assert {d.position for d in deltas} == {0, 1}
    assert turn.status == "complete" and turn.finish_reason == "tool_calls"
    assert turn.content == "Looking."
    first, second = turn.tool_calls
    assert (first.id, first.name) == ("call_0", "select_rows")
    assert first.parsed_arguments() == {"table": "orders", "limit": 5}
    assert (second.id, second.name) == ("c-7", "describe_table")
    assert second.parsed_arguments() == {"table": "customers"}
    completes = [e for e in events if isinstance(e, ToolCallComplete)]
    assert [c.tool_call for c in completes] == turn.tool_calls
    assert turn.assistant_message()["tool_calls"][1] == {
        "id": "c-7",
        "type": "function",
        "function": {"name": "describe_table", "arguments": '{"table": "customers"}'},
    }


def test_assembler_splits_parallel_calls_that_reuse_an_index():
    assembler = _ToolCallAssembler()
    for delta in [
        {"index": 0, "id": "a", "function": {"name": "recall", "arguments": '{"q'}},
        {"index": 0, "function": {"arguments": '": 1}'}},
        {"index": 0, "id": "b", "function": {"name": "list_tables", "arguments": ""}},
        {"function": {"arguments": "{}"}},  # neither index nor id: the last call
    ]:
        assembler.add(delta)
    calls = assembler.complete()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "recall", '{"q": 1}'),
        ("b", "list_tables", "{}"),
    ]


def test_invalid_tool_arguments_raise_a_readable_error():
    assembler = _ToolCallAssembler()
    assembler.add({"index": 0, "id": "x", "function": {"name": "remember", "arguments": "{oops"}})
    (call,) = assembler.complete()
    with pytest.raises(ValueError, match="remember are not valid JSON"):
        call.parsed_arguments()


async def test_tool_loop_sends_tool_results_back(server):
    """The agent's loop: call, tool calls, results, call again; the script is a queue."""
    server.script(
        {"tool_calls": [{"name": "list_tables"}]},
        {"text": "Your tables: {last_tool_result}."},
    )
    messages = [{"role": "user", "content": "Which tables?"}]
    _, turn = await collect(server, messages, tools=[LIST_TABLES])
    messages.append(turn.assistant_message())
    (call,) = turn.tool_calls
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '["orders"]'})
    _, turn = await collect(server, messages, tools=[LIST_TABLES])

    assert turn.content == 'Your tables: ["orders"].'
    second = chat_requests(server)[1]["body"]["messages"]
    assert second[1]["tool_calls"][0]["function"]["name"] == "list_tables"
    assert second[2] == {"role": "tool", "tool_call_id": "call_0", "content": '["orders"]'}


async def test_demo_answers_without_a_script(server):
    messages = [{"role": "user", "content": "What tables do I have?"}]
    _, turn = await collect(server, messages, tools=[LIST_TABLES])
    assert [c.name for c in turn.tool_calls] == ["list_tables"]

    messages += [
        turn.assistant_message(),
        {"role": "tool", "tool_call_id": turn.tool_calls[0].id, "content": '["orders"]'},
    ]
    _, turn = await collect(server, messages, tools=[LIST_TABLES])
    assert '["orders"]' in turn.content and not turn.tool_calls

    _, turn = await collect(server, [{"role": "user", "content": "hi there"}])
    assert turn.content.startswith("You said: hi there")
    assert all(r["scripted"] is False for r in chat_requests(server))


# ---------------------------------------------------------------- failures in the stream


@pytest.mark.parametrize("style", ["both", "finish_reason", "error_object"])
async def test_mid_stream_error_keeps_partial_and_fails(server, style):
    server.script(
        {
            "text": "one two three four five six",
            "error_after": 3,
            "error_style": style,
            "error_message": "Provider disconnected unexpectedly",
        }
    )
    _, turn = await collect(server)

    assert turn.content == "one two three "
    assert turn.status == "failed"
    assert turn.error.code == "provider_error"
    if style != "finish_reason":
        assert "Provider disconnected unexpectedly" in turn.error.message
    await wait_for(lambda: chat_requests(server)[0]["outcome"] == "mid_stream_error")
    assert len(chat_requests(server)) == 1  # not retried once tokens flowed


async def test_dropped_connection_keeps_partial_as_interrupted(server):
    server.script({"text": "alpha beta gamma delta epsilon", "drop_after": 2})
    _, turn = await collect(server)

    assert turn.content == "alpha beta "
    assert turn.status == "interrupted"
    assert turn.error.code == "interrupted"
    assert "lost" in turn.error.message
    await wait_for(lambda: chat_requests(server)[0]["outcome"] == "dropped")


async def test_cut_after_the_finish_chunk_is_still_complete(server):
    server.script({"text": "whole answer", "drop_after": 3})  # 2 tokens, then finish
    _, turn = await collect(server)
    assert turn.status == "complete" and turn.finish_reason == "stop"
    assert turn.content == "whole answer" and turn.usage is None


async def test_tool_calls_of_a_cut_turn_are_not_completed(server):
    server.script({"tool_calls": [{"name": "delete_rows", "arguments": {"table": "t"}}]})
    server.script({"tool_calls": [{"name": "list_tables"}], "drop_after": 2})
    _, complete = await collect(server)
    events, cut = await collect(server)
    assert [c.name for c in complete.tool_calls] == ["delete_rows"]
    assert cut.status == "interrupted" and cut.tool_calls == []
    assert not any(isinstance(e, ToolCallComplete) for e in events)


# ---------------------------------------------------------------- errors before the stream


@pytest.mark.parametrize(
    ("step", "code", "words"),
    [
        ({"status": 401}, "invalid_key", "did not accept the API key"),
        ({"status": 402}, "insufficient_credits", "enough credits"),
        (
            {"status": 403, "error_metadata": {"reasons": ["harassment"]}},
            "moderation",
            "content policy (flagged: harassment)",
        ),
        ({"status": 408}, "timeout", "took too long"),
        ({"status": 400, "error_message": "tools not supported"}, "bad_request", "tools not"),
    ],
)
async def test_http_errors_become_user_messages(server, step, code, words):
    server.script(step, {"text": "never reached"})
    events, turn = await collect(server)

    assert turn.status == "failed" and turn.content == ""
    assert turn.error.code == code and turn.error.status == step["status"]
    assert words in turn.error.message
    assert not any(isinstance(e, Retrying) for e in events)
    assert len(chat_requests(server)) == 1


async def test_429_honours_retry_after_then_succeeds(server):
    server.script({"status": 429, "retry_after": "1"}, {"text": "finally"})
    started = time.monotonic()
    events, turn = await collect(server)

    assert time.monotonic() - started >= 0.95
    (retrying,) = [e for e in events if isinstance(e, Retrying)]
    assert retrying.attempt == 1 and retrying.delay == 1.0
    assert retrying.error.code == "rate_limited"
    assert turn.status == "complete" and turn.content == "finally" and turn.retries == 1
    assert len(chat_requests(server)) == 2


async def test_retry_after_beyond_the_cap_is_not_waited_for(server):
    server.script({"status": 429, "retry_after": "120"}, {"text": "never reached"})
    _, turn = await collect(server)
    assert turn.status == "failed" and turn.error.code == "rate_limited"
    assert "Try again in 120 seconds" in turn.error.message
    assert len(chat_requests(server)) == 1


@pytest.mark.parametrize("status", [502, 503])
async def test_5xx_retried_then_success(server, status):
    server.script({"status": status}, {"text": "back"})
    events, turn = await collect(server)
    assert turn.status == "complete" and turn.content == "back"
    assert [e.error.status for e in events if isinstance(e, Retrying)] == [status]


async def test_retries_are_bounded(server):
    server.script(*[{"status": 503}] * 4)
    _, turn = await collect(server, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    assert turn.status == "failed" and turn.error.code == "no_provider"
    assert turn.retries == 2 and len(chat_requests(server)) == 3


async def test_unreachable_server_fails_with_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = []
    stream = stream_chat(
        KEY, MODEL, QUESTION, base_url=f"http://127.0.0.1:{port}/api/v1", retry=FAST
    )
    async with aclosing(stream) as stream:
        events = [event async for event in stream]
    assert sum(isinstance(e, Retrying) for e in events) == 2
    assert events[-1].status == "failed"
    assert events[-1].error.code == "connection_failed"


# ---------------------------------------------------------------- Stop


@pytest.mark.parametrize("how", ["cancel", "break"])
async def test_stop_closes_the_upstream_request(server, how):
    server.script({"text": "word " * 200, "tokens_per_second": 20})
    first_token = asyncio.Event()
    turn = ChatTurn()

    async def consume():
        async with aclosing(stream_chat(KEY, MODEL, QUESTION, base_url=server.url)) as stream:
            async for event in stream:
                turn.apply(event)
                first_token.set()
                if how == "break":
                    break

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_token.wait(), 3)
    stopped = time.time()
    if how == "cancel":
        task.cancel()
    with pytest.raises(asyncio.CancelledError) if how == "cancel" else nullcontext():
        await task

    await wait_for(lambda: chat_requests(server)[0]["outcome"] == "client_disconnected")
    assert chat_requests(server)[0]["ended_at"] - stopped < 0.5
    assert turn.content.startswith("word") and turn.status is None


# ---------------------------------------------------------------- the key stays secret


async def test_key_never_in_errors_or_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.script(
        {"status": 400, "error_message": f"bad request from {KEY}"},
        {"text": "partial", "error_after": 1, "error_message": f"boom {KEY}"},
    )
    _, rejected = await collect(server)
    _, broken = await collect(server)
    assert rejected.error.detail == "bad request from [redacted]"
    assert broken.error.detail == "boom [redacted]"

    server.accepted_keys = {"another-key"}
    _, refused = await collect(server)
    assert refused.error.code == "invalid_key"
    with pytest.raises(OpenRouterError) as raised:
        await check_key(KEY, base_url=server.url)

    texts = [str(t.error) for t in (rejected, broken, refused)]
    texts += [str(raised.value), repr(raised.value), repr(raised.value.info), caplog.text]
    assert all(KEY not in text for text in texts)
    assert all(KEY not in str(r["headers"]) for r in server.requests())


async def test_malformed_key_is_refused_without_echoing_it(server):
    bad = "sk-or-v1-abc\ndef"
    async with aclosing(stream_chat(bad, MODEL, QUESTION, base_url=server.url)) as stream:
        events = [event async for event in stream]
    (finish,) = events
    assert finish.status == "failed" and finish.error.code == "invalid_key"
    assert "abc" not in finish.error.message
    with pytest.raises(OpenRouterError) as raised:
        await check_key(bad, base_url=server.url)
    assert raised.value.code == "invalid_key" and "abc" not in str(raised.value)
    assert server.requests() == []


# ---------------------------------------------------------------- models and key


async def test_model_list_cached_and_tool_capable_marked(server):
    models = await list_models(base_url=server.url)
    by_id = {m.id: m for m in models}
    tools = by_id["heho/fake-tools"]
    assert tools.supports_tools and tools.context_length == 128000
    assert tools.prompt_price == 0.000001 and tools.completion_price == 0.000002
    assert not by_id["heho/fake-chat"].supports_tools
    assert by_id["heho/fake-chat"].prompt_price == 0.0
    assert by_id["openrouter/auto"].prompt_price is None  # variable price

    def fetches():
        return sum(r["path"].endswith("/models") for r in server.requests())

    assert await list_models(base_url=server.url) == models
    assert fetches() == 1
    await list_models(base_url=server.url, refresh=True)
    await list_models(base_url=server.url, ttl=0)
    assert fetches() == 3
    assert "authorization" not in server.requests()[0]["headers"]


async def test_key_check(server):
    info = await check_key(KEY, base_url=server.url)
    assert info.label.startswith("sk-or-v1") and KEY not in info.label
    assert info.usage == 0.25 and info.limit is None and not info.is_free_tier

    server.accepted_keys = {"the-only-key"}
    with pytest.raises(OpenRouterError) as raised:
        await check_key("wrong-key", base_url=server.url)
    assert raised.value.code == "invalid_key" and raised.value.info.status == 401


# ---------------------------------------------------------------- the fake server itself


async def test_admin_endpoints_over_http(server):
    async with httpx.AsyncClient(base_url=server.admin_url) as admin:
        refused = await admin.post("/__scenario", json=[{"text": "x", "nonsense": 1}])
        assert refused.status_code == 422
        queued = await admin.post("/__scenario", json=[{"text": "scripted over HTTP"}])
        assert queued.json() == {"queued": 1}
        _, turn = await collect(server)
        assert turn.content == "scripted over HTTP"
        records = (await admin.get("/__requests")).json()
        assert records[-1]["scripted"] is True and records[-1]["outcome"] == "complete"

        await admin.post("/__config", json={"accepted_keys": ["k1"], "tokens_per_second": 50})
        _, refused = await collect(server)
        assert refused.error.code == "invalid_key"
        server.script({"text": "five tokens at fifty each"})
        started = time.monotonic()
        turn = await complete_chat("k1", MODEL, QUESTION, base_url=server.url)
        assert turn.status == "complete" and time.monotonic() - started >= 0.08

        await admin.post("/__reset")
        assert (await admin.get("/__requests")).json() == []
        assert server.accepted_keys is None and server.tokens_per_second is None


async def test_sse_parser_joins_multiline_data_and_skips_comments():
    async def lines():
        for line in [": OPENROUTER PROCESSING", "", "data: a", "data:b", "", "data: [DONE]"]:
            yield line

    assert [d async for d in _sse_data(lines())] == ["a\nb", "[DONE]"]


def test_dev_llm_command_parses():
    args = build_parser().parse_args(["dev-llm", "--port", "0", "--tokens-per-second", "0"])
    assert (
        args.port == 0 and args.tokens_per_second == 0 and args.handler.__name__ == ("run_dev_llm")
    )
