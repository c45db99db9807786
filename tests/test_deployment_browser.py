"""The deployment (tests/fixtures/deployment.py) in Chromium: signed-in pages whose
websockets land on different workers, a streamed chat while other requests are spread
over the workers, and Redis restarted under a running app.

Which worker holds a websocket is read from Redis, where Reflex records each open
one with its worker's instance id; which workers hold HTTP connections from
nginx is read from /proc. Nothing is added to the product for it.
"""

import pickle  # Reflex stores its socket records pickled in our own, local Redis
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis
from playwright.sync_api import BrowserContext, Page, expect
from sqlmodel import Session, func, select

from heho_app.models import AuditEvent, User
from heho_app.services.audit import verify_chain
from tests.api.conftest import add_key, add_user, bearer
from tests.fixtures.accounts import app_engine
from tests.fixtures.app_server import wait_for_hydration
from tests.fixtures.browser import open_page, sign_in
from tests.fixtures.chat import seed_app_chatbot, select_step

pytestmark = pytest.mark.browser

SOCKET_RECORD = "token_manager_socket_record_{}"


def email_of(deployment, user_id: int) -> str:
    with Session(app_engine(deployment.db_url)) as session:
        return session.get(User, user_id).email


def websockets_per_worker(deployment) -> Counter:
    """How many open websockets each worker (Reflex's instance id) holds, from Redis."""
    with redis.Redis.from_url(deployment.redis.url) as client:
        records = [client.get(key) for key in client.scan_iter(SOCKET_RECORD.format("*"))]
    # Reflex's own records, pickled by the app into this test's local Redis.
    return Counter(pickle.loads(record).instance_id for record in records if record)  # noqa: S301


def new_key(deployment) -> str:
    with Session(app_engine(deployment.db_url), expire_on_commit=False) as session:
        return add_key(session, add_user(session, verified=True), limit=10_000).plaintext


def test_a_signed_in_session_works_on_every_worker(deployment, browser):
    context: BrowserContext = browser.new_context()
    try:
        first = context.new_page()
        email = email_of(deployment, sign_in(first, deployment, "workers"))
        open_page(first, f"{deployment.url}/account")
        tabs = [first]
        # Each worker listens on its own socket (SO_REUSEPORT): the kernel picks one
        # per new connection by a hash of its addresses. nginx keeps its upstream
        # connections open and reuses them, websocket upgrades included, so a reload
        # before each tab makes every tab's connections new ones, each landing on
        # either worker. Open tabs until both workers hold one (1 in 2^19 to miss).
        while len(websockets_per_worker(deployment)) < 2 and len(tabs) < 20:
            deployment.nginx.reload()
            tab = context.new_page()
            open_page(tab, f"{deployment.url}/account")
            tabs.append(tab)
        for tab in tabs:
            expect(tab.get_by_text(f"Signed in as {email}")).to_be_visible()
        assert len(websockets_per_worker(deployment)) == 2
        # Reloads reconnect (maybe to the other worker) with the state kept in Redis.
        for tab in tabs:
            tab.reload()
            wait_for_hydration(tab)
            expect(tab.get_by_text(f"Signed in as {email}")).to_be_visible()
        # HTTP requests with the same cookie, over new connections, to either worker.
        for _ in range(10):
            response = context.request.get(
                f"{deployment.url}/auth/csrf", headers={"Connection": "close"}
            )
            assert response.status == 200
    finally:
        context.close()


@pytest.fixture
def chat_page(deployment, browser, supabase_stack, fake_openrouter):
    """`chat_page(grants)`: a signed-in tab on a connected chatbot's chat page."""
    contexts: list[BrowserContext] = []

    def open_chat(grants: list[dict]) -> tuple[Page, int]:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        user_id = sign_in(page, deployment, "deployed-chat")
        chatbot_id = seed_app_chatbot(deployment, user_id, supabase_stack, grants)
        open_page(page, f"{deployment.url}/chat/{chatbot_id}")
        expect(page.get_by_role("heading", name="Shop helper")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Ask a question to start.")).to_be_visible()
        return page, user_id

    yield open_chat
    for context in contexts:
        context.close()


def ask(page: Page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.get_by_role("button", name="Send").click()


def last_answer(page: Page):
    return page.locator('.message[data-role="assistant"]').last


def in_background(work: Callable[[], list[int]]) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []
    thread = threading.Thread(target=lambda: statuses.extend(work()))
    thread.start()
    return thread, statuses


def test_a_streamed_chat_completes_while_requests_spread_over_the_workers(
    deployment, chat_page, fake_openrouter
):
    page, _ = chat_page([{"table": "orders"}])
    words = [f"word{n}" for n in range(60)]
    fake_openrouter.script({"text": " ".join(words), "tokens_per_second": 30})
    key = new_key(deployment)

    def one_client() -> list[int]:
        statuses = []
        deadline = time.monotonic() + 1.5
        with httpx.Client(base_url=deployment.url) as client:
            while time.monotonic() < deadline:
                statuses.append(client.post("/api/v1/verify-user", headers=bearer(key)).status_code)
                statuses.append(client.get("/login/").status_code)
        return statuses

    def burst() -> list[int]:
        # 16 clients at once: nginx opens as many upstream connections, which the
        # two workers accept between them.
        with ThreadPoolExecutor(16) as pool:
            return [
                status for part in pool.map(lambda _: one_client(), range(16)) for status in part
            ]

    ask(page, "Tell me a long story")
    expect(last_answer(page)).to_contain_text("word5")  # streaming has begun
    thread, statuses = in_background(burst)
    expect(last_answer(page)).to_contain_text("word59", timeout=30_000)
    thread.join()

    expect(last_answer(page)).to_have_text(re.compile(re.escape(" ".join(words))))
    assert statuses and Counter(statuses) == {200: len(statuses)}
    spread = deployment.connections_per_worker()
    assert all(spread.values()), spread


def audit_events(deployment, user_id: int) -> Counter:
    """(tool, outcome) → how many audit events the user has in PostgreSQL."""
    with Session(app_engine(deployment.db_url)) as session:
        rows = session.exec(
            select(AuditEvent.tool, AuditEvent.outcome, func.count())
            .where(AuditEvent.user_id == user_id)
            .group_by(AuditEvent.tool, AuditEvent.outcome)
        ).all()
    return Counter({(tool, outcome): count for tool, outcome, count in rows})


def test_redis_restarted_under_the_app(deployment, chat_page, fake_openrouter):
    """While Redis is down the API answers 503 and the page shows an error; both work
    again once it is back, and the audit log (PostgreSQL) lost nothing."""
    page, user_id = chat_page([{"table": "orders"}])
    key = new_key(deployment)
    fake_openrouter.script(select_step("orders", "id", 1), {"text": "First: {last_tool_result}"})
    ask(page, "Order 1?")
    expect(last_answer(page)).to_contain_text("First:")
    one_turn = audit_events(deployment, user_id)
    assert one_turn[("select_rows", "ok")] == 1

    deployment.redis.stop()
    try:
        refused = httpx.post(deployment.url + "/api/v1/verify-user", headers=bearer(key))
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["error"]["code"] == "unavailable"
        ask(page, "Order 2?")
        expect(page.get_by_text("An error occurred.")).to_be_visible()
        assert audit_events(deployment, user_id) == one_turn
    finally:
        deployment.redis.start()

    deadline = time.monotonic() + 20
    while (
        httpx.post(deployment.url + "/api/v1/verify-user", headers=bearer(key)).status_code != 200
    ):
        assert time.monotonic() < deadline, "the API did not recover after Redis came back"
        time.sleep(0.5)
    # The tab's state was in Redis (started without persistence here): a reload
    # rebuilds it; the signed-in session is in PostgreSQL and survives.
    page.reload()
    wait_for_hydration(page)
    expect(page.get_by_role("heading", name="Shop helper")).to_be_visible()
    fake_openrouter.script(select_step("orders", "id", 3), {"text": "Third: {last_tool_result}"})
    ask(page, "Order 3?")
    expect(last_answer(page)).to_contain_text("Third:")

    two_turns = audit_events(deployment, user_id)
    assert two_turns == {event: 2 * count for event, count in one_turn.items()}
    report = verify_chain(user_id, engine=app_engine(deployment.db_url))
    assert report.ok, report.describe()
    assert report.events_checked == two_turns.total()
