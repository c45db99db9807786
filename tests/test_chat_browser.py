"""The chat page in Chromium against the running app, the local Supabase stack and
the local OpenRouter."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from heho_app.models import AuditEvent
from tests.fixtures.accounts import app_engine, create_verified_user, unique_email
from tests.fixtures.app_server import wait_for_hydration
from tests.fixtures.browser import fill_login
from tests.fixtures.chat import seed_app_chatbot, select_step

pytestmark = pytest.mark.browser


@pytest.fixture
def open_chat_page(running_app, page: Page, supabase_stack, fake_openrouter):
    """`open_chat_page(grants, **settings)`: signed in, on a connected chatbot's chat page."""

    def open_page(grants: list[dict], **settings) -> tuple[int, str]:
        email = unique_email("chat")
        user_id = create_verified_user(running_app, email)
        chatbot_id = seed_app_chatbot(running_app, user_id, supabase_stack, grants, **settings)
        page.goto(f"{running_app.url}/login?next=/chat/{chatbot_id}")
        wait_for_hydration(page)
        fill_login(page, email)
        expect(page).to_have_url(re.compile(rf"/chat/{chatbot_id}/?$"))
        expect(page.get_by_role("heading", name="Shop helper")).to_be_visible()
        expect(page.get_by_text("Ask a question to start.")).to_be_visible()
        return user_id, chatbot_id

    return open_page


def ask(page: Page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.get_by_role("button", name="Send").click()


def last_answer(page: Page):
    return page.locator('.message[data-role="assistant"]').last


def audit_outcomes(running_app, user_id: int) -> list[tuple[str, str]]:
    with Session(app_engine(running_app.db_url)) as session:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.user_id == user_id, AuditEvent.outcome != "pending")
        ).all()
        return [(row.tool, row.outcome) for row in rows]


def test_a_question_is_answered_with_rows_read_from_postgrest(
    open_chat_page, page, fake_openrouter, supabase_stack
):
    supabase_stack.execute("update public.orders set status = 'held-at-customs' where id = 12")
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script(
        select_step("orders", "id", 12),
        {"text": "Order 12: {last_tool_result}", "tokens_per_second": 200},
    )

    ask(page, "Where is order 12?")

    expect(last_answer(page)).to_contain_text("held-at-customs", timeout=20_000)
    card = last_answer(page).locator(".tool-card")
    expect(card).to_contain_text("select_rows")
    expect(card).to_contain_text("1 row")
    expect(card).to_have_attribute("data-outcome", "ok")


def test_an_allowed_insert_lands_in_the_database(
    open_chat_page, page, fake_openrouter, supabase_stack
):
    open_chat_page([{"table": "customers", "insert": True}])
    fake_openrouter.script(
        {
            "tool_calls": [
                {
                    "name": "insert_rows",
                    "arguments": {
                        "table": "customers",
                        "rows": [{"name": "Mary Jackson", "email": "mj@example.com"}],
                    },
                }
            ]
        },
        {"text": "Added Mary."},
    )

    ask(page, "Add Mary Jackson")

    expect(last_answer(page)).to_contain_text("Added Mary.")
    assert supabase_stack.execute(
        "select name from public.customers where email = 'mj@example.com'"
    ) == [("Mary Jackson",)]


def test_a_delete_without_grant_is_refused_shown_and_audited(
    open_chat_page, page, fake_openrouter, supabase_stack, running_app
):
    user_id, _ = open_chat_page([{"table": "orders"}])
    fake_openrouter.script(
        {
            "tool_calls": [
                {
                    "name": "delete_rows",
                    "arguments": {
                        "table": "orders",
                        "filters": [{"column": "status", "op": "eq", "value": "new"}],
                    },
                }
            ]
        },
        {"text": "I am not allowed to delete orders."},
    )

    ask(page, "Delete the new orders")

    card = last_answer(page).locator(".tool-card")
    expect(card).to_have_attribute("data-outcome", "denied")
    expect(card).to_contain_text("refused")
    assert supabase_stack.execute("select count(*) from public.orders") == [(60,)]
    assert ("delete_rows", "denied") in audit_outcomes(running_app, user_id)


def test_approve_and_reject_pending_writes(open_chat_page, page, fake_openrouter, supabase_stack):
    open_chat_page([{"table": "products", "update": True}], approve_writes=True)

    def ask_for_update(stock: int) -> None:
        fake_openrouter.script(
            {
                "tool_calls": [
                    {
                        "name": "update_rows",
                        "arguments": {
                            "table": "products",
                            "values": {"stock": stock},
                            "filters": [{"column": "name", "op": "eq", "value": "Monitor"}],
                        },
                    }
                ]
            },
            {"text": "Please approve."},
        )
        ask(page, f"Set monitor stock to {stock}")
        expect(page.locator('.action-card[data-status="pending"]')).to_have_count(1)

    ask_for_update(5)
    assert supabase_stack.execute("select stock from public.products where name = 'Monitor'") == [
        (40,)
    ]
    page.locator('.action-card[data-status="pending"]').get_by_role("button", name="Reject").click()
    expect(page.locator('.action-card[data-status="rejected"]')).to_have_count(1)
    assert supabase_stack.execute("select stock from public.products where name = 'Monitor'") == [
        (40,)
    ]

    ask_for_update(7)
    page.locator('.action-card[data-status="pending"]').get_by_role(
        "button", name="Approve"
    ).click()
    expect(page.locator('.action-card[data-status="approved"]')).to_have_count(1)
    assert supabase_stack.execute("select stock from public.products where name = 'Monitor'") == [
        (7,)
    ]


def test_stop_closes_the_upstream_request_and_saves_the_partial_answer(
    open_chat_page, page, fake_openrouter, supabase_stack
):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script({"text": "tick " * 500, "tokens_per_second": 30})

    ask(page, "Count slowly")
    expect(page.locator("#streaming-answer")).to_contain_text("tick tick tick")
    page.get_by_role("button", name="Stop").click()

    expect(last_answer(page)).to_have_attribute("data-status", "stopped")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    for _ in range(50):  # the local OpenRouter records the outcome in its own thread
        if fake_openrouter.requests()[-1]["outcome"] == "client_disconnected":
            break
        page.wait_for_timeout(100)
    assert fake_openrouter.requests()[-1]["outcome"] == "client_disconnected"
    saved = supabase_stack.execute(
        "select status, length(content) from public.heho_messages where role = 'assistant'"
    )
    assert len(saved) == 1 and saved[0][0] == "stopped"
    assert 0 < saved[0][1] < len("tick " * 500)


def test_mid_stream_error_is_shown_and_retry_after_429_succeeds(
    open_chat_page, page, fake_openrouter
):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script(
        {"text": "Partial words then", "error_after": 2, "error_message": "Upstream exploded"}
    )
    ask(page, "first")
    expect(page.locator("#chat-error")).to_contain_text("Upstream exploded")
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    expect(last_answer(page)).to_contain_text("Partial words")

    fake_openrouter.script({"status": 429, "retry_after": "1"}, {"text": "Now it works."})
    page.get_by_role("button", name="Retry").click()
    expect(last_answer(page)).to_contain_text("Now it works.", timeout=20_000)
    expect(last_answer(page)).to_have_attribute("data-status", "complete")
    assert [r["status"] for r in fake_openrouter.requests()[-2:]] == [429, 200]


def test_an_answer_cut_off_at_the_length_limit_says_so(open_chat_page, page, fake_openrouter):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script({"text": "The list goes on and", "finish_reason": "length"})
    ask(page, "List everything")
    expect(last_answer(page)).to_contain_text("The list goes on and")
    expect(page.locator("#chat-error")).to_contain_text("length limit")


def test_messages_survive_a_reload(open_chat_page, page, fake_openrouter):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script({"text": "Remember this answer."})
    ask(page, "Say something memorable")
    expect(last_answer(page)).to_contain_text("Remember this answer.")

    page.reload()
    wait_for_hydration(page)

    expect(page.locator('.message[data-role="user"]')).to_contain_text("Say something memorable")
    expect(last_answer(page)).to_contain_text("Remember this answer.")
    expect(page.locator(".conversation-link")).to_have_count(1)


def test_a_conversation_is_renamed_and_deleted_in_the_project(
    open_chat_page, page, fake_openrouter, supabase_stack
):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script({"text": "Noted."})
    ask(page, "Note this")
    expect(last_answer(page)).to_contain_text("Noted.")

    page.get_by_role("button", name="Rename").click()
    page.get_by_label("New title").fill("Stock questions")
    page.get_by_role("button", name="Rename", exact=True).last.click()
    expect(page.locator(".conversation-link")).to_contain_text("Stock questions")
    assert supabase_stack.execute("select title from public.heho_conversations") == [
        ("Stock questions",)
    ]

    page.get_by_role("button", name="Delete conversation").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    expect(page.locator(".conversation-link")).to_have_count(0)
    assert supabase_stack.execute("select count(*) from public.heho_conversations") == [(0,)]
    assert supabase_stack.execute("select count(*) from public.heho_messages") == [(0,)]


def test_html_from_the_model_is_shown_not_run(open_chat_page, page, fake_openrouter):
    open_chat_page([{"table": "orders"}])
    fake_openrouter.script(
        {"text": 'Look <img src=x onerror="window.pwned=1"> and <b>bold</b> **markdown**'}
    )

    ask(page, "html please")

    expect(last_answer(page).locator("strong")).to_have_text("markdown")
    expect(last_answer(page).locator("img")).to_have_count(0)
    expect(last_answer(page).locator("b")).to_have_count(0)
    assert page.evaluate("() => window.pwned === undefined")
