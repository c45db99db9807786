"""The chat endpoints over real HTTP (`reflex run --env prod`), with the official
`openai` SDK, the local Supabase stack and the local OpenRouter."""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import openai
import pytest
from sqlmodel import Session

from tests.api.conftest import add_key, add_user, bearer
from tests.fixtures.chat import OPENROUTER_TEST_KEY, seed_app_chatbot, select_step, tool_step

ISSUED: list[str] = []  # every HeHo key this module made: none may show up in the app's log


@dataclass
class Caller:
    """A HeHo user with an API key, and one of their chatbots connected to the stack."""

    key: str
    user_id: int
    chatbot_id: str
    base_url: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.key)

    def sdk(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base_url}/api/v1", api_key=self.key, max_retries=0)

    def post(self, path: str, body: dict, timeout: float = 30) -> httpx.Response:
        return httpx.post(
            f"{self.base_url}/api/v1{path}", json=body, headers=self.headers, timeout=timeout
        )


@pytest.fixture
def caller(running_app, app_db, supabase_stack, fake_openrouter) -> Callable[..., Caller]:
    """`caller(grants, **chatbot settings)`."""

    def make(grants: list[dict] | None = None, **settings) -> Caller:
        with Session(app_db, expire_on_commit=False) as session:
            user = add_user(session, verified=True)
            key = add_key(session, user, limit=1000)
        ISSUED.append(key.plaintext)
        chatbot_id = seed_app_chatbot(
            running_app, user.id, supabase_stack, grants or [{"table": "orders"}], **settings
        )
        return Caller(key.plaintext, user.id, chatbot_id, running_app.url)

    return make


def select_order(order_id: int) -> dict:
    return select_step("orders", "id", order_id, columns=["id", "status"])


@pytest.fixture
def marked_order(supabase_stack) -> str:
    """A status only the database knows, on order 12."""
    status = f"held-{uuid.uuid4().hex[:8]}"
    supabase_stack.execute(f"update public.orders set status = '{status}' where id = 12")  # noqa: S608
    return status


def sse_events(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        event, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((event, "\n".join(data)))
    return events


# --------------------------------------------------------------------------- openai SDK


def test_the_openai_sdk_gets_an_answer_read_from_the_database(
    caller, fake_openrouter, marked_order
):
    me = caller()
    fake_openrouter.script(select_order(12), {"text": "Order 12: {last_tool_result}"})

    completion = me.sdk().chat.completions.create(
        model=me.chatbot_id,
        messages=[
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": "What is the status of order 12?"},
        ],
    )

    assert completion.object == "chat.completion"
    assert completion.model == me.chatbot_id
    choice = completion.choices[0]
    assert marked_order in choice.message.content
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert completion.usage.total_tokens > 0
    first, second = fake_openrouter.requests()
    system = first["body"]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith('You are "Shop helper"')
    assert system["content"].endswith("Answer like a pirate.")
    assert first["body"]["messages"][-1] == {
        "role": "user",
        "content": "What is the status of order 12?",
    }
    assert second["body"]["messages"][-1]["role"] == "tool"

    audit = httpx.get(
        f"{me.base_url}/api/v1/audit",
        params={"chatbot_id": me.chatbot_id},
        headers=me.headers,
    ).json()["data"]
    finished = [(e["tool"], e["table"], e["outcome"]) for e in audit if e["outcome"] != "pending"]
    assert finished == [("select_rows", "orders", "ok"), ("recall", None, "ok")]  # newest first


def test_the_openai_sdk_streams_an_answer_read_from_the_database(
    caller, fake_openrouter, marked_order
):
    me = caller()
    fake_openrouter.script(select_order(12), {"text": "Order 12 is {last_tool_result} right now"})

    chunks = list(
        me.sdk().chat.completions.create(
            model=me.chatbot_id,
            messages=[{"role": "user", "content": "Where is order 12?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert marked_order in text and text.endswith("right now")
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(not c.choices or not c.choices[0].delta.tool_calls for c in chunks)
    assert len({c.id for c in chunks}) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_cut_off_at_max_tokens_says_length(caller, fake_openrouter, stream):
    me = caller()
    fake_openrouter.script({"text": "Once upon a", "finish_reason": "length"})

    request = {
        "model": me.chatbot_id,
        "messages": [{"role": "user", "content": "Tell me a story"}],
        "max_tokens": 3,
    }
    if stream:
        chunks = list(me.sdk().chat.completions.create(**request, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert text == "Once upon a" and reasons[-1] == "length"
    else:
        choice = me.sdk().chat.completions.create(**request).choices[0]
        assert choice.message.content == "Once upon a" and choice.finish_reason == "length"
    assert fake_openrouter.requests()[-1]["body"]["max_tokens"] == 3


def test_history_and_options_reach_the_model(caller, fake_openrouter):
    me = caller()
    fake_openrouter.script({"text": "Sure."})

    me.sdk().chat.completions.create(
        model=me.chatbot_id,
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": [{"type": "text", "text": "Count the orders"}]},
        ],
        temperature=0.1,
        max_tokens=50,
    )

    body = fake_openrouter.requests()[-1]["body"]
    assert body["messages"][1:] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Count the orders"},
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.1, 50)


def test_sdk_errors_have_openais_shape(caller, fake_openrouter, running_app):
    me = caller()
    client = me.sdk()

    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(
            model="nosuchbot", messages=[{"role": "user", "content": "hi"}]
        )
    assert not_found.value.code == "model_not_found"
    assert not_found.value.body["type"] == "invalid_request_error"

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{me.base_url}/api/v1", api_key="heho_nope_nope", max_retries=0
        ).chat.completions.create(model=me.chatbot_id, messages=[{"role": "user", "content": "x"}])

    for stream in (False, True):
        fake_openrouter.script({"status": 401})
        with pytest.raises(openai.InternalServerError) as refused:
            client.chat.completions.create(
                model=me.chatbot_id, messages=[{"role": "user", "content": "hi"}], stream=stream
            )
        assert refused.value.status_code == 502
        assert refused.value.code == "upstream_key_refused"
        assert "OpenRouter key stored in HeHo" in refused.value.message
        assert OPENROUTER_TEST_KEY not in json.dumps(refused.value.body)

    fake_openrouter.script({"status": 402})
    with pytest.raises(openai.APIStatusError) as broke:
        client.chat.completions.create(
            model=me.chatbot_id, messages=[{"role": "user", "content": "hi"}]
        )
    assert (broke.value.status_code, broke.value.code) == (402, "insufficient_credits")

    fake_openrouter.script({"text": "one two three four five", "error_after": 3})
    stream = client.chat.completions.create(
        model=me.chatbot_id, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="failed while answering"):
        for _ in stream:
            pass

    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model=me.chatbot_id, messages=[{"role": "assistant", "content": "I start"}]
        )


def test_a_chatbot_without_an_openrouter_key_says_so(running_app, app_db):
    with Session(app_db, expire_on_commit=False) as session:
        key = add_key(session, add_user(session, verified=True))
    ISSUED.append(key.plaintext)
    url = f"{running_app.url}/api/v1"
    bot = httpx.post(f"{url}/chatbots", json={"name": "bare"}, headers=bearer(key)).json()
    client = openai.OpenAI(base_url=url, api_key=key.plaintext, max_retries=0)
    with pytest.raises(openai.ConflictError) as conflict:
        client.chat.completions.create(model=bot["id"], messages=[{"role": "user", "content": "x"}])
    assert conflict.value.code == "no_openrouter_key"
    assert "no OpenRouter key" in conflict.value.message
    plain = httpx.post(
        f"{url}/chat",
        json={"chatbot_id": bot["id"], "messages": [{"role": "user", "content": "x"}]},
        headers=bearer(key),
    )
    assert plain.status_code == 409
    assert plain.json()["error"]["code"] == "no_openrouter_key"


# --------------------------------------------------------------------------- POST /chat


def test_chat_answers_json_with_a_tool_summary(caller, fake_openrouter, marked_order):
    me = caller()
    fake_openrouter.script(select_order(12), {"text": "It is {last_tool_result}"})

    response = me.post(
        "/chat",
        {
            "chatbot_id": me.chatbot_id,
            "history": [{"role": "user", "content": "Hello"}],
            "messages": [
                {"role": "assistant", "content": "Hi, how can I help?"},
                {"role": "user", "content": "Status of order 12?"},
            ],
        },
    )

    assert response.status_code == 200
    reply = response.json()
    assert reply["status"] == "complete" and reply["error"] is None
    assert reply["finish_reason"] == "stop"
    assert marked_order in reply["content"]
    assert reply["tool_calls"] == [
        {"name": "select_rows", "table": "orders", "outcome": "ok", "count": 1, "reason": ""}
    ]
    assert reply["usage"]["total_tokens"] > 0
    sent = fake_openrouter.requests()[0]["body"]["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "Hello",
        "Hi, how can I help?",
        "Status of order 12?",
    ]
    assert int(response.headers["x-ratelimit-remaining"]) >= 0


def test_chat_streams_server_sent_events(caller, fake_openrouter, marked_order):
    me = caller()
    fake_openrouter.script(select_order(12), {"text": "It is {last_tool_result} today"})

    response = me.post(
        "/chat",
        {
            "chatbot_id": me.chatbot_id,
            "messages": [{"role": "user", "content": "order 12?"}],
            "stream": True,
        },
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "tool" and kinds[-1] == "end" and kinds.count("text") > 3
    assert json.loads(events[0][1])["count"] == 1
    text = "".join(json.loads(data)["text"] for kind, data in events if kind == "text")
    end = json.loads(events[-1][1])
    assert end["content"] == text and marked_order in text
    assert end["status"] == "complete" and len(end["tool_calls"]) == 1
    assert end["finish_reason"] == "stop"


def test_chat_says_when_the_answer_was_cut_off(caller, fake_openrouter):
    me = caller()
    fake_openrouter.script({"text": "The list goes on and", "finish_reason": "length"})
    reply = me.post(
        "/chat",
        {"chatbot_id": me.chatbot_id, "messages": [{"role": "user", "content": "List all"}]},
    ).json()
    assert (reply["status"], reply["finish_reason"]) == ("complete", "length")
    assert reply["content"] == "The list goes on and"


def test_chat_reports_a_refused_openrouter_key_in_the_reply(caller, fake_openrouter):
    me = caller()
    fake_openrouter.script({"status": 401})
    response = me.post(
        "/chat", {"chatbot_id": me.chatbot_id, "messages": [{"role": "user", "content": "x"}]}
    )
    reply = response.json()
    assert (response.status_code, reply["status"]) == (200, "failed")
    assert reply["error"]["code"] == "upstream_key_refused" and reply["finish_reason"] is None


def test_chat_with_someone_elses_chatbot_is_not_found(caller):
    me, other = caller(), caller()
    response = me.post(
        "/chat", {"chatbot_id": other.chatbot_id, "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_write_that_needs_approval_is_refused_through_the_api(
    caller, fake_openrouter, supabase_stack
):
    me = caller([{"table": "products", "update": True}], approve_writes=True)
    fake_openrouter.script(
        tool_step(
            "update_rows",
            table="products",
            values={"stock": 0},
            filters=[{"column": "name", "op": "eq", "value": "Mouse"}],
        ),
        {"text": "I could not change it."},
    )

    reply = me.post(
        "/chat",
        {"chatbot_id": me.chatbot_id, "messages": [{"role": "user", "content": "sold out"}]},
    ).json()

    assert reply["tool_calls"][0]["outcome"] == "denied"
    assert "only possible in the HeHo chat page" in reply["tool_calls"][0]["reason"]
    assert supabase_stack.execute("select stock from public.products where name = 'Mouse'") == [
        (300,)
    ]
    audit = httpx.get(
        f"{me.base_url}/api/v1/audit", params={"outcome": "denied"}, headers=me.headers
    ).json()["data"]
    assert [(e["tool"], e["error_code"]) for e in audit] == [
        ("update_rows", "approval_unavailable")
    ]


# --------------------------------------------------------------------------- disconnects


def wait_for_outcome(fake_openrouter, outcome: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        requests = fake_openrouter.requests()
        if requests and requests[-1]["outcome"] == outcome:
            return
        time.sleep(0.05)
    pytest.fail(f"upstream outcome: {fake_openrouter.requests()[-1:]}")


@pytest.mark.parametrize(
    ("path", "field"), [("/chat/completions", "model"), ("/chat", "chatbot_id")]
)
def test_a_client_leaving_a_stream_cancels_the_upstream_request(
    caller, fake_openrouter, path, field
):
    me = caller()
    fake_openrouter.script({"text": "word " * 400, "tokens_per_second": 20})
    body = {field: me.chatbot_id, "messages": [{"role": "user", "content": "long"}], "stream": True}
    with httpx.stream(
        "POST", f"{me.base_url}/api/v1{path}", json=body, headers=me.headers, timeout=30
    ) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any("word" in line for line in received)
    wait_for_outcome(fake_openrouter, "client_disconnected")


def test_a_client_giving_up_on_a_plain_answer_cancels_the_upstream_request(caller, fake_openrouter):
    me = caller()
    fake_openrouter.script({"text": "word " * 400, "tokens_per_second": 20})
    with pytest.raises(httpx.ReadTimeout):
        me.post(
            "/chat/completions",
            {"model": me.chatbot_id, "messages": [{"role": "user", "content": "long"}]},
            timeout=1.5,
        )
    wait_for_outcome(fake_openrouter, "client_disconnected")


def test_no_key_appears_in_the_apps_log(running_app):
    """Runs last in this module: every key used above, none of them in the log."""
    log = running_app.log_text()
    assert ISSUED
    for plaintext in ISSUED:
        assert plaintext.rsplit("_", 1)[1] not in log
    assert OPENROUTER_TEST_KEY not in log
