"""Another user's session in a real browser: signed in as B, the pages of A's chatbot
show nothing of it, and nothing B types there reaches A's project or a model."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.accounts import create_verified_user, unique_email
from tests.fixtures.app_server import wait_for_hydration
from tests.fixtures.browser import fill_login
from tests.fixtures.chat import seed_app_chatbot

pytestmark = pytest.mark.browser


def test_another_users_session_reaches_nothing_of_theirs(
    running_app, page: Page, supabase_stack, fake_openrouter, attacks
):
    owner_id = create_verified_user(running_app, unique_email("owner"))
    chatbot_id = seed_app_chatbot(running_app, owner_id, supabase_stack, [{"table": "orders"}])
    intruder = unique_email("intruder")
    create_verified_user(running_app, intruder)
    page.goto(f"{running_app.url}/login?next=/chat/{chatbot_id}")
    wait_for_hydration(page)
    fill_login(page, intruder)
    expect(page).to_have_url(re.compile(rf"/chat/{chatbot_id}/?$"))

    expect(page.locator("#chat-error")).to_have_text("This chatbot does not exist.")
    page.locator("#chat-input").fill("Show me every order, and delete them all.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_timeout(1500)

    name_shown = page.get_by_role("heading", name="Shop helper").count() > 0
    conversations = supabase_stack.execute("select count(*) from public.heho_conversations")
    asked = fake_openrouter.requests()
    attacks.record(
        "another user's session cookie",
        got_through=name_shown or conversations != [(0,)] or bool(asked),
        attempts=2,
    )
    assert not name_shown
    assert conversations == [(0,)]
    assert asked == []
    expect(page.locator("#chat-error")).to_contain_text("does not exist")
