"""No secret in the browser: a whole session of setting keys, editing a chatbot,
testing its connection and opening its chat, recorded frame by frame.

The keys necessarily travel once from the browser to the server (the form submit,
a SENT frame); they must never come back: not in a received websocket frame, not in
an HTTP response body, not in the server's log, not in HeHo's database in clear.
"""

import re
import sqlite3
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, Response, WebSocket, expect

from tests.fixtures.browser import create_chatbot, grant_box, open_page, shot, sign_in
from tests.fixtures.chat import OPENROUTER_TEST_KEY

pytestmark = pytest.mark.browser

API_KEY = re.compile(r"^heho_[0-9a-f]{12}_[A-Za-z0-9]{43}$")


@dataclass
class Recording:
    sent: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    bodies: dict[str, list[str]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    recording: bool = True

    def stop(self) -> None:
        """Ignore whatever the page does after this (e.g. the fixture's screenshot)."""
        self.recording = False

    def attach(self, page: Page) -> None:
        page.on("websocket", self._on_websocket)
        page.on("response", self._on_response)

    def _on_websocket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self._keep(self.sent, payload))
        ws.on("framereceived", lambda payload: self._keep(self.received, payload))

    def _keep(self, frames: list[str], payload: str | bytes) -> None:
        if self.recording:
            frames.append(_text(payload))

    def _on_response(self, response: Response) -> None:
        if not self.recording:
            return
        try:
            body = response.body()
        except Exception:  # a redirect or an upgraded websocket has no body
            self.unreadable.append(response.url)
            return
        self.bodies.setdefault(response.url, []).append(body.decode("utf-8", "replace"))

    def received_containing(self, secret: str) -> list[str]:
        return [frame[:300] for frame in self.received if secret in frame]

    def bodies_containing(self, secret: str) -> list[str]:
        return [url for url, bodies in self.bodies.items() if any(secret in b for b in bodies)]


def _text(payload: str | bytes) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


def db_text_dump(db_url: str) -> str:
    """Every value of every column of every table of HeHo's (SQLite) database, as text."""
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        tables = [
            row[0]
            for row in connection.execute("select name from sqlite_master where type = 'table'")
        ]
        values: list[str] = []
        for table in tables:
            for row in connection.execute(f'select * from "{table}"'):  # noqa: S608 - own names
                values.extend(str(value) for value in row if value is not None)
    return "\n".join(values)


def variants(secret: str) -> list[str]:
    """The secret, and a distinctive piece of it (a JWT's signature, a key's body)."""
    pieces = [secret]
    if secret.count(".") == 2:
        pieces.append(secret.rsplit(".", 1)[1])
    else:
        pieces.append(secret[6:-4])
    return pieces


def test_no_key_ever_comes_back_to_the_browser(running_app, page, supabase_stack, fake_openrouter):
    fake_openrouter.accepted_keys = {OPENROUTER_TEST_KEY}
    recording = Recording()
    recording.attach(page)
    log_start = len(running_app.log_text())
    sign_in(page, running_app, "nosecret")

    # The OpenRouter key, set on /keys.
    open_page(page, f"{running_app.url}/keys")
    page.get_by_label("API key").fill(OPENROUTER_TEST_KEY)
    page.get_by_role("button", name="Check and save").click()
    expect(page.locator("#openrouter-saved")).to_contain_text(OPENROUTER_TEST_KEY[-4:])

    # A chatbot, edited, connected with the stack's service key, tested, granted.
    chatbot_id = create_chatbot(page, running_app, "Secretive")
    page.get_by_label("Goal").fill("Keep secrets.")
    page.locator(".model-option", has_text="heho/fake-tools").click()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    service_key = supabase_stack.service_key
    page.get_by_label("Project URL").fill(supabase_stack.url)
    page.locator("#supabase_key").fill(service_key)
    page.get_by_role("button", name="Test and save").click()
    expect(page.locator("#check-result")).to_contain_text("Connected")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#check-result")).to_contain_text("Connected")
    grant_box(page, "insert", "orders").click()
    page.get_by_role("button", name="Save permissions").click()
    expect(page.get_by_text("Permissions saved.")).to_be_visible()
    page.reload()
    expect(page.locator("#saved-key")).to_contain_text(service_key[-4:])

    # The chat page decrypts both keys: one question reads a row through PostgREST
    # and gets its answer from (the local) OpenRouter, which accepts only the real key.
    open_page(page, f"{running_app.url}/chat/{chatbot_id}")
    expect(page.get_by_role("heading", name="Secretive")).to_be_visible()
    fake_openrouter.script(
        {
            "tool_calls": [
                {
                    "name": "select_rows",
                    "arguments": {
                        "table": "orders",
                        "filters": [{"column": "id", "op": "eq", "value": 12}],
                    },
                }
            ]
        },
        {"text": "Order 12: {last_tool_result}", "tokens_per_second": 200},
    )
    page.locator("#chat-input").fill("What about order 12?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator('.message[data-role="assistant"]').last
    expect(answer).to_contain_text("Order 12", timeout=20_000)
    shot(page, "no-secret-chat")

    # The list shows the chatbot used; the audit page shows the call.
    open_page(page, f"{running_app.url}/chatbots")
    expect(page.locator(".chatbot-row", has_text="Secretive")).not_to_contain_text("never")
    open_page(page, f"{running_app.url}/audit")
    expect(page.locator("#audit-events")).to_contain_text("select_rows")

    # The key access log shows the uses, without the keys.
    open_page(page, f"{running_app.url}/keys")
    expect(page.locator("#key-access-log")).to_contain_text("test connection")
    # A new HeHo API key is shown once.
    page.get_by_label("Key name").fill("one-time")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-api-key")).to_have_value(API_KEY)
    api_key = page.locator("#new-api-key").input_value()
    page.get_by_role("button", name="Done").click()
    expect(page.locator("#new-api-key")).to_have_value("")
    expect(page.locator("#new-key-box")).to_be_hidden()
    page.reload()
    expect(page.locator(".api-key-row")).to_have_count(1)
    expect(page.locator("#new-key-box")).to_be_hidden()
    shot(page, "no-secret-keys")
    recording.stop()

    # The API key came down exactly once, in the frame that shows it, and never went up.
    assert len(recording.received_containing(api_key)) == 1
    assert not [frame for frame in recording.sent if api_key in frame]
    assert recording.bodies_containing(api_key) == []

    secrets = {
        "OpenRouter key": OPENROUTER_TEST_KEY,
        "Supabase key": service_key,
        "HeHo API key (stored)": api_key,
    }
    # The recording works: each key did go up once, in the form's submit.
    for name, secret in list(secrets.items())[:2]:
        assert any(secret in frame for frame in recording.sent), f"{name} was never sent"
    assert len(recording.received) > 20
    assert len(recording.bodies) > 5
    log = running_app.log_text()[log_start:]
    dump = db_text_dump(running_app.db_url)
    assert "Secretive" in dump and "Keep secrets." in dump
    for name, secret in secrets.items():
        for piece in variants(secret):
            if name.startswith("HeHo"):
                assert piece not in log, f"{name} in the server log"
                assert piece not in dump, f"{name} in HeHo's database"
                continue
            assert recording.received_containing(piece) == [], f"{name} in a received frame"
            assert recording.bodies_containing(piece) == [], f"{name} in a response body"
            assert piece not in log, f"{name} in the server log"
            assert piece not in dump, f"{name} in HeHo's database"
