"""One chat turn against the local OpenRouter and the local Supabase stack."""

import asyncio
import json

import pytest
from sqlmodel import select

from heho_app.db import session_scope
from heho_app.models import AuditEvent
from heho_app.services import conversations
from heho_app.services.agent import (
    AgentSetupError,
    ApprovalError,
    ApprovalNeeded,
    TextChunk,
    ToolActivity,
    TurnEnd,
    decide_action,
    open_chat,
    run_turn,
)
from tests.fixtures.chat import select_step, tool_step, wait_for

READ_ORDERS = [{"table": "orders"}]


async def collect(chat, text, conversation_id=None, **options):
    events = [e async for e in run_turn(chat, text, conversation_id=conversation_id, **options)]
    assert isinstance(events[-1], TurnEnd)
    return events


def denied_events(user_id: int) -> list[AuditEvent]:
    with session_scope() as session:
        return list(
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.user_id == user_id, AuditEvent.outcome == "denied"
                )
            ).all()
        )


async def test_plain_answer_streams_and_both_messages_are_saved(open_test_chat, fake_openrouter):
    chat, conversation_id = await open_test_chat(READ_ORDERS)
    fake_openrouter.script({"text": "Hello there, I can read your orders."})

    events = await collect(chat, "hi", conversation_id)

    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    assert len(chunks) > 3
    assert "".join(chunks) == "Hello there, I can read your orders."
    assert events[-1].status == "complete"
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert [(m["role"], m["content"], m["status"]) for m in saved] == [
        ("user", "hi", "complete"),
        ("assistant", "Hello there, I can read your orders.", "complete"),
    ]


async def test_a_long_answer_and_a_long_question_are_saved_whole(open_test_chat, fake_openrouter):
    """Well over the 16 KiB a proxy keeps in memory before it spools a body to disk."""
    chat, conversation_id = await open_test_chat(READ_ORDERS)
    answer = " ".join(f"word{i}" for i in range(6000))
    question = "Please read this: " + "x" * 40_000
    fake_openrouter.script({"text": answer})

    events = await collect(chat, question, conversation_id)

    assert events[-1].status == "complete"
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert [(m["role"], m["content"]) for m in saved] == [
        ("user", question),
        ("assistant", answer),
    ]


async def test_system_prompt_names_grants_and_never_a_key(open_test_chat, fake_openrouter):
    chat, _ = await open_test_chat([{"table": "orders", "insert": True}], goal="Track orders")
    fake_openrouter.script({"text": "ok"})

    await collect(chat, "hello")

    request = fake_openrouter.requests()[-1]
    system = request["body"]["messages"][0]["content"]
    assert "Track orders" in system
    assert "- orders: read, insert" in system
    assert "customers" not in system
    body = json.dumps(request["body"])
    assert chat.openrouter_key not in body
    assert chat.tools.supabase_key not in body


async def test_answer_uses_rows_really_read_from_postgrest(
    open_test_chat, fake_openrouter, supabase_stack
):
    chat, conversation_id = await open_test_chat(READ_ORDERS)
    supabase_stack.execute("update public.orders set status = 'lost-in-transit' where id = 7")
    fake_openrouter.script(
        select_step("orders", "id", 7),
        {"text": "Found: {last_tool_result}"},
    )

    events = await collect(chat, "where is order 7?", conversation_id)

    activity = next(e for e in events if isinstance(e, ToolActivity))
    assert activity.result.outcome == "ok" and activity.result.count == 1
    assert "lost-in-transit" in events[-1].content
    tool_message = fake_openrouter.requests()[-1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert "not an instruction" in json.loads(tool_message["content"])["note"]
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert saved[-1]["tool_calls"][0]["name"] == "select_rows"
    assert saved[-1]["tool_calls"][0]["count"] == 1


async def test_allowed_insert_lands_in_the_database(
    open_test_chat, fake_openrouter, supabase_stack
):
    chat, _ = await open_test_chat([{"table": "customers", "insert": True}])
    fake_openrouter.script(
        tool_step(
            "insert_rows",
            table="customers",
            rows=[{"name": "Katherine Johnson", "email": "kj@example.com"}],
        ),
        {"text": "Added."},
    )

    await collect(chat, "add Katherine")

    rows = supabase_stack.execute(
        "select name from public.customers where email = 'kj@example.com'"
    )
    assert rows == [("Katherine Johnson",)]


async def test_delete_without_grant_changes_nothing_and_is_audited(
    open_test_chat, fake_openrouter, supabase_stack, heho_user
):
    chat, _ = await open_test_chat(READ_ORDERS)
    before = supabase_stack.execute("select count(*) from public.orders")
    fake_openrouter.script(
        tool_step(
            "delete_rows", table="orders", filters=[{"column": "id", "op": "gt", "value": 0}]
        ),
        {"text": "I could not: {last_tool_result}"},
    )

    events = await collect(chat, "delete all orders")

    activity = next(e for e in events if isinstance(e, ToolActivity))
    assert activity.result.outcome == "denied"
    assert "not an instruction" in fake_openrouter.requests()[-1]["body"]["messages"][-1]["content"]
    assert supabase_stack.execute("select count(*) from public.orders") == before
    assert [e.tool for e in denied_events(heho_user.id)] == ["delete_rows"]


async def test_write_waits_for_approval_then_runs(open_test_chat, fake_openrouter, supabase_stack):
    chat, conversation_id = await open_test_chat(
        [{"table": "products", "update": True}], approve_writes=True
    )
    fake_openrouter.script(
        tool_step(
            "update_rows",
            table="products",
            values={"stock": 0},
            filters=[{"column": "name", "op": "eq", "value": "Mouse"}],
        ),
        {"text": "Waiting for you."},
    )

    events = await collect(chat, "mouse is sold out", conversation_id)

    pending = next(e for e in events if isinstance(e, ApprovalNeeded))
    assert supabase_stack.execute("select stock from public.products where name = 'Mouse'") == [
        (300,)
    ]
    result = await decide_action(chat.tools, conversation_id, pending.message_id, approve=True)
    assert result.outcome == "ok" and result.count == 1
    assert supabase_stack.execute("select stock from public.products where name = 'Mouse'") == [
        (0,)
    ]
    with pytest.raises(ApprovalError, match="already approved"):
        await decide_action(chat.tools, conversation_id, pending.message_id, approve=True)


async def test_rejected_write_never_runs_and_is_audited(
    open_test_chat, fake_openrouter, supabase_stack, heho_user
):
    chat, conversation_id = await open_test_chat(
        [{"table": "customers", "insert": True}], approve_writes=True
    )
    fake_openrouter.script(
        tool_step("insert_rows", table="customers", rows=[{"name": "Mallory"}]),
        {"text": "Asked."},
    )

    events = await collect(chat, "add Mallory", conversation_id)
    pending = next(e for e in events if isinstance(e, ApprovalNeeded))
    result = await decide_action(chat.tools, conversation_id, pending.message_id, approve=False)

    assert result.outcome == "denied"
    assert supabase_stack.execute(
        "select count(*) from public.customers where name = 'Mallory'"
    ) == [(0,)]
    assert [e.detail for e in denied_events(heho_user.id)] == ["Rejected by the chatbot's owner."]
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert [m["status"] for m in saved if m["role"] == "tool"] == ["rejected"]


async def test_stop_closes_upstream_and_keeps_the_partial_answer(open_test_chat, fake_openrouter):
    chat, conversation_id = await open_test_chat(READ_ORDERS)
    fake_openrouter.script({"text": "word " * 400, "tokens_per_second": 40})
    seen: list[str] = []

    async def consume():
        async for event in run_turn(chat, "long please", conversation_id=conversation_id):
            if isinstance(event, TextChunk):
                seen.append(event.text)

    task = asyncio.create_task(consume())
    while len(seen) < 5:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_for(lambda: fake_openrouter.requests()[-1]["outcome"] == "client_disconnected")
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert saved[-1]["status"] == "stopped"
    assert saved[-1]["content"].startswith("word word word")
    assert len(saved[-1]["content"]) < len("word " * 400)


async def test_mid_stream_error_keeps_partial_and_marks_failed(open_test_chat, fake_openrouter):
    chat, conversation_id = await open_test_chat(READ_ORDERS)
    fake_openrouter.script(
        {"text": "one two three four five", "error_after": 3, "error_message": "Provider fell over"}
    )

    events = await collect(chat, "hi", conversation_id)

    end = events[-1]
    assert end.status == "failed"
    assert end.content == "one two three "
    assert "Provider fell over" in end.error_message
    saved = await conversations.list_messages(chat.tools, conversation_id)
    assert (saved[-1]["content"], saved[-1]["status"]) == ("one two three ", "failed")


async def test_rate_limited_then_answered(open_test_chat, fake_openrouter):
    chat, _ = await open_test_chat(READ_ORDERS)
    fake_openrouter.script({"status": 429, "retry_after": "1"}, {"text": "Second time lucky."})

    events = await collect(chat, "hi")

    assert events[-1].status == "complete"
    assert events[-1].content == "Second time lucky."
    assert [r["status"] for r in fake_openrouter.requests()] == [429, 200]


async def test_a_model_looping_on_tools_is_stopped(open_test_chat, fake_openrouter):
    chat, _ = await open_test_chat(READ_ORDERS)
    loop = tool_step("list_tables")
    fake_openrouter.script(*([loop] * 20))

    events = await collect(chat, "loop")

    assert events[-1].status == "failed"
    assert events[-1].error_code == "tool_step_limit"
    assert len(fake_openrouter.requests()) == 9


async def test_memories_are_remembered_and_recalled_into_the_prompt(
    open_test_chat, fake_openrouter
):
    chat, _ = await open_test_chat(READ_ORDERS, memory_enabled=True)
    fake_openrouter.script(
        tool_step("remember", content="Prefers metric units"),
        {"text": "Noted."},
        {"text": "Sure."},
    )

    await collect(chat, "remember I like metric")
    await collect(chat, "what do I like?")

    system = fake_openrouter.requests()[-1]["body"]["messages"][0]["content"]
    assert "Prefers metric units" in system


async def test_chat_needs_an_openrouter_key(heho_user, make_chatbot):
    chatbot = make_chatbot(READ_ORDERS)
    with pytest.raises(AgentSetupError, match="OpenRouter key"):
        await open_chat(heho_user.id, chatbot.id, purpose="test")


async def test_another_users_chatbot_is_not_found(open_test_chat, heho_user):
    chat, _ = await open_test_chat(READ_ORDERS)
    with pytest.raises(AgentSetupError, match="does not exist"):
        await open_chat(heho_user.id + 1000, chat.profile.id, purpose="test")
