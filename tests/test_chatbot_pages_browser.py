"""The chatbot, keys and audit pages in Chromium against the running app and the
local Supabase stack."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from heho_app.models import Chatbot, Credential, TableGrant
from heho_app.services import api_keys, audit
from heho_app.services.supabase_link import heho_tables_sql
from tests.fixtures.accounts import app_engine, create_verified_user, unique_email
from tests.fixtures.browser import at, create_chatbot, grant_box, open_page, shot, sign_in
from tests.fixtures.chat import OPENROUTER_TEST_KEY

pytestmark = pytest.mark.browser


def chatbot_row(running_app, chatbot_id: str) -> Chatbot:
    with Session(app_engine(running_app.db_url)) as session:
        chatbot = session.get(Chatbot, chatbot_id)
        assert chatbot is not None
        return chatbot


def grants_of(running_app, chatbot_id: str) -> dict[str, tuple[bool, bool, bool, bool]]:
    with Session(app_engine(running_app.db_url)) as session:
        rows = session.exec(select(TableGrant).where(TableGrant.chatbot_id == chatbot_id)).all()
        return {r.table_name: (r.can_read, r.can_insert, r.can_update, r.can_delete) for r in rows}


def test_create_configure_connect_grant_and_reload(
    running_app, page, supabase_stack, fake_openrouter
):
    sign_in(page, running_app, "flow")
    open_page(page, f"{running_app.url}/chatbots")
    expect(page.locator("#chatbots-empty")).to_be_visible()
    shot(page, "chatbots-empty")

    chatbot_id = create_chatbot(page, running_app, "Orders assistant")
    form = page.locator("#settings-form")
    form.get_by_label("Goal").fill("Answer questions about orders.")
    form.get_by_label("Description (system prompt)").fill("You help the shop team.")
    # The model list comes from (the local) OpenRouter: searchable, tools marked.
    page.locator("#model").fill("fake")
    options = page.locator(".model-option")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("128k context")
    expect(options.first).to_contain_text("tools")
    page.locator(".model-option", has_text="heho/fake-tools").click()
    expect(page.locator("#model")).to_have_value("heho/fake-tools")
    form.get_by_label("Temperature").fill("0.3")
    form.get_by_label("Row cap").fill("50")
    page.locator("#theme-ocean").click()
    page.get_by_label("Ask me before any write").click()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    saved = chatbot_row(running_app, chatbot_id)
    assert (saved.model, saved.temperature, saved.row_cap) == ("heho/fake-tools", 0.3, 50)
    assert (saved.theme, saved.approve_writes, saved.goal) == (
        "ocean",
        True,
        "Answer questions about orders.",
    )

    # Connect: the key is tested, then saved; afterwards only its last four show.
    key = supabase_stack.service_key
    page.get_by_label("Project URL").fill(supabase_stack.url)
    page.locator("#supabase_key").fill(key)
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#check-result")).to_contain_text("Connected: 4 table(s) found.")
    expect(page.locator("#saved-key")).to_have_text(f"Saved key: ••••{key[-4:]}")
    expect(page.locator("#supabase_key")).to_have_value("")
    expect(page.locator("#grants-table")).to_contain_text("customers")

    # Grants: read is on by default; delete asks first.
    expect(grant_box(page, "read", "orders")).to_be_checked()
    grant_box(page, "insert", "orders").click()
    grant_box(page, "update", "orders").click()
    grant_box(page, "read", "products").click()
    grant_box(page, "delete", "notes").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Allow deleting rows?")
    dialog.get_by_role("button", name="Keep it off").click()
    expect(grant_box(page, "delete", "notes")).not_to_be_checked()
    grant_box(page, "delete", "notes").click()
    shot(page, "chatbot-settings-delete-warning")
    page.get_by_role("alertdialog").get_by_role("button", name="Allow delete").click()
    expect(grant_box(page, "delete", "notes")).to_be_checked()
    page.get_by_role("button", name="Save permissions").click()
    expect(page.get_by_text("Permissions saved.")).to_be_visible()
    assert grants_of(running_app, chatbot_id) == {
        "customers": (True, False, False, False),
        "notes": (True, False, False, True),
        "orders": (True, True, True, False),
        "products": (False, False, False, False),
    }

    # Test the saved connection: the stored key is decrypted for it (and logged).
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#check-result")).to_contain_text("Connected")

    page.reload()
    expect(page.locator("#settings-form")).to_be_visible()
    expect(page.get_by_label("Goal")).to_have_value("Answer questions about orders.")
    expect(page.locator("#model")).to_have_value("heho/fake-tools")
    expect(page.get_by_label("Row cap")).to_have_value("50")
    expect(page.locator("#theme-ocean")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_label("Ask me before any write")).to_be_checked()
    expect(grant_box(page, "delete", "notes")).to_be_checked()
    expect(grant_box(page, "update", "orders")).to_be_checked()
    expect(grant_box(page, "read", "products")).not_to_be_checked()
    expect(page.locator("#saved-key")).to_contain_text(key[-4:])
    shot(page, "chatbot-settings")

    open_page(page, f"{running_app.url}/chatbots")
    row = page.locator(".chatbot-row", has_text="Orders assistant")
    expect(row).to_contain_text("heho/fake-tools")
    expect(row).to_contain_text(supabase_stack.url.split("//")[1])
    expect(row).to_contain_text("Last used: never")
    shot(page, "chatbots-list")


def test_invalid_settings_show_messages_and_change_nothing(
    running_app, page, supabase_stack, fake_openrouter
):
    sign_in(page, running_app, "invalid")
    chatbot_id = create_chatbot(page, running_app, "Strict bot")
    before = chatbot_row(running_app, chatbot_id)
    form = page.locator("#settings-form")
    form.get_by_label("Name").fill("x" * 121)
    form.get_by_label("Goal").fill("changed goal")
    form.get_by_label("Temperature").fill("5")
    form.get_by_label("Row cap").fill("0")
    page.locator("#model").fill("two words")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#name-error")).to_have_text(
        "Give the chatbot a name of 1 to 120 characters."
    )
    expect(page.locator("#temperature-error")).to_have_text(
        "The temperature is a number from 0 to 2."
    )
    expect(page.locator("#row_cap-error")).to_have_text(
        "The row cap is a whole number from 1 to 1000."
    )
    expect(page.locator("#model-error")).to_contain_text("Pick a model")
    expect(page.locator("#goal-error")).to_have_count(0)
    shot(page, "chatbot-settings-invalid")
    after = chatbot_row(running_app, chatbot_id)
    assert after.model_dump() == before.model_dump()

    # The connection: a malformed URL and a refused key are shown at their fields.
    page.get_by_label("Project URL").fill("ftp://example.com")
    page.locator("#supabase_key").fill("some-key")
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#supabase_url-error")).to_contain_text("must look like https://")
    page.get_by_label("Project URL").fill(supabase_stack.url)
    page.locator("#supabase_key").fill("not.a.valid-key")
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#supabase_key-error")).to_contain_text("refused the key")
    expect(page.locator("#saved-key")).to_have_count(0)
    with Session(app_engine(running_app.db_url)) as session:
        assert not session.exec(select(Credential).where(Credential.chatbot_id == chatbot_id)).all()
    assert chatbot_row(running_app, chatbot_id).supabase_url is None


def test_duplicate_and_delete_with_confirmation(running_app, page):
    sign_in(page, running_app, "delete")
    create_chatbot(page, running_app, "Keeper")
    open_page(page, f"{running_app.url}/chatbots")
    rows = page.locator(".chatbot-row")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Duplicate").click()
    expect(page.get_by_text("“Keeper (copy)” created")).to_be_visible()
    expect(rows).to_have_count(2)

    copy = page.locator(".chatbot-row", has_text="Keeper (copy)")
    copy.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Keeper (copy)")
    shot(page, "chatbots-delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(rows).to_have_count(2)
    copy.get_by_role("button", name="Delete").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete chatbot").click()
    expect(page.get_by_text("“Keeper (copy)” was deleted.")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Keeper")


def test_someone_elses_chatbot_is_not_found(running_app, page):
    owner_email = unique_email("owner")
    owner_id = create_verified_user(running_app, owner_email)
    with Session(app_engine(running_app.db_url)) as session:
        theirs = Chatbot(user_id=owner_id, name="Not yours")
        session.add(theirs)
        session.commit()
        theirs_id = theirs.id
    sign_in(page, running_app, "intruder")
    open_page(page, f"{running_app.url}/chatbots/{theirs_id}/settings")
    expect(page.locator("#chatbot-not-found")).to_be_visible()
    expect(page.get_by_text("Not yours", exact=True)).to_have_count(0)
    open_page(page, f"{running_app.url}/chatbots/nope/settings")
    expect(page.locator("#chatbot-not-found")).to_be_visible()


def test_openrouter_key_is_checked_and_only_its_end_is_shown(running_app, page, fake_openrouter):
    fake_openrouter.accepted_keys = {OPENROUTER_TEST_KEY}
    sign_in(page, running_app, "keys")
    open_page(page, f"{running_app.url}/keys")
    expect(page.locator("#openrouter-none")).to_be_visible()
    expect(page.locator("#key-access-empty")).to_be_visible()
    page.get_by_label("API key").fill("sk-or-v1-refused-000000000")
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#openrouter_key-error")).to_contain_text("did not accept the API key")
    page.get_by_label("API key").fill(OPENROUTER_TEST_KEY)
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#openrouter-saved")).to_contain_text(f"••••{OPENROUTER_TEST_KEY[-4:]}")
    expect(page.locator("#openrouter_key")).to_have_value("")
    assert OPENROUTER_TEST_KEY not in page.content()
    shot(page, "keys")

    # HeHo API keys: made (shown once), rotated (the old one stops), revoked.
    expect(page.locator("#new-key-box")).to_be_hidden()
    page.get_by_label("Key name").fill("reporting")
    page.get_by_role("button", name="Create key").click()
    first = page.locator("#new-api-key")
    expect(first).to_have_value(re.compile(r"^heho_[0-9a-f]{12}_"))
    first_key = first.input_value()
    rows = page.locator(".api-key-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(first_key.split("_")[1])
    rows.first.get_by_role("button", name="Rotate").click()
    expect(page.get_by_text("here is its successor")).to_be_visible()
    expect(rows).to_have_count(2)
    second_key = page.locator("#new-api-key").input_value()
    assert second_key != first_key and second_key.startswith("heho_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=running_app.url)
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_text("Key copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == second_key
    with Session(app_engine(running_app.db_url)) as session:
        assert api_keys.verify_api_key(session, first_key) is None
        assert api_keys.verify_api_key(session, second_key) is not None
    shot(page, "keys-api-key-shown")
    page.get_by_role("button", name="Done").click()
    active = page.locator(".api-key-row", has=page.get_by_role("button", name="Revoke"))
    active.get_by_role("button", name="Revoke").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("“reporting” is revoked")).to_be_visible()
    with Session(app_engine(running_app.db_url)) as session:
        assert api_keys.verify_api_key(session, second_key) is None

    page.get_by_role("button", name="Remove key").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Remove").click()
    expect(page.locator("#openrouter-none")).to_be_visible()


def test_audit_page_filters_and_exports(running_app, page, tmp_path):
    user_id = sign_in(page, running_app, "audit")
    engine = app_engine(running_app.db_url)
    with Session(engine) as session:
        bot = Chatbot(user_id=user_id, name="Audited bot")
        session.add(bot)
        session.commit()
        bot_id = bot.id
    for table, outcome in (("orders", "ok"), ("notes", "denied"), ("orders", "failed")):
        pending = audit.start_event(
            user_id=user_id,
            tool="select_rows",
            chatbot_id=bot_id,
            table_name=table,
            operation="read",
            engine=engine,
        )
        audit.finish_event(pending, outcome=outcome, rows_affected=3, engine=engine)

    open_page(page, f"{running_app.url}/audit")
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Audited bot")
    page.locator("#audit-outcome-filter").click()
    page.get_by_role("option", name="denied").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("notes")
    page.locator("#audit-outcome-filter").click()
    page.get_by_role("option", name="Any outcome").click()
    page.locator("#audit-table-filter").fill("orders")
    expect(rows).to_have_count(2)
    shot(page, "audit")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export CSV").click()
    path = tmp_path / "audit.csv"
    download_info.value.save_as(path)
    exported = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["table_name"] for r in exported] == ["orders", "orders"]
    assert {r["outcome"] for r in exported} == {"ok", "failed"}

    page.locator("#audit-table-filter").fill("no_such_table")
    expect(page.locator("#audit-empty")).to_be_visible()
    open_page(page, f"{running_app.url}/audit")
    assert at(running_app, "/audit").search(page.url)


def test_missing_heho_tables_come_with_their_sql(running_app, page, supabase_stack):
    supabase_stack.execute("drop table public.heho_messages; drop table public.heho_memories")
    supabase_stack.reload_schema(expect_table="heho_memories", present=False)
    try:
        sign_in(page, running_app, "missing")
        create_chatbot(page, running_app, "Fresh project")
        page.get_by_label("Project URL").fill(supabase_stack.url)
        page.locator("#supabase_key").fill(supabase_stack.service_key)
        page.get_by_role("button", name="Test and save").click()
        expect(page.locator("#check-result")).to_contain_text("HeHo's tables are missing")
        missing = page.locator("#missing-heho-tables")
        expect(missing).to_contain_text("heho_messages, heho_memories")
        expect(missing).to_contain_text("create table")
        page.context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=running_app.url
        )
        page.locator("#copy-sql").click()
        expect(page.get_by_text("SQL copied")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == heho_tables_sql()
        # Saved all the same: the chatbot can be set up before the tables exist.
        expect(page.locator("#saved-key")).to_contain_text(supabase_stack.service_key[-4:])
        shot(page, "chatbot-settings-missing-heho-tables")
    finally:
        supabase_stack.execute(heho_tables_sql())
        supabase_stack.reload_schema(expect_table="heho_memories", present=True)


@pytest.mark.parametrize("path", ["/chatbots", "/keys", "/audit", "/chatbots/abc/settings"])
def test_pages_need_a_login(running_app, page, path):
    open_page(page, f"{running_app.url}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next=" + re.escape(path.replace("/", "%2F"))))
