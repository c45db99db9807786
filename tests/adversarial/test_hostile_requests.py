"""Hostile HTTP clients against the running app: a flood of logins, oversized bodies,
and one user's API key used on another user's chatbot and audit log.

Covered elsewhere and not repeated here: a websocket from another origin
(tests/test_auth_http.py::test_websocket_from_another_origin_is_refused), CSRF and
Origin on the auth routes (tests/test_auth_http.py), body limits on /api/v1/chatbots
(tests/api/test_validation.py, tests/api/test_e2e.py).
"""

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from urllib.parse import urlsplit

import httpx
from limits.storage import MemoryStorage
from sqlmodel import Session, select

from heho_app.models import Chatbot, TableGrant, User
from heho_app.security import SESSION_COOKIE
from heho_app.services import audit
from heho_app.services.ratelimit import Limiter, RateLimited
from tests.api.conftest import add_key, bearer
from tests.api.e2e_helpers import new_key
from tests.fixtures.accounts import (
    PASSWORD,
    app_engine,
    browser_like_client,
    create_verified_user,
    csrf_token,
    live_sessions,
    unique_email,
)
from tests.fixtures.app_server import ACCOUNT_TEST_ENV
from tests.fixtures.chat import seed_app_chatbot

ACCOUNT_LIMIT = int(ACCOUNT_TEST_ENV["HEHO_LOGIN_LIMIT_ACCOUNT"].split("/")[0])


def test_a_flood_of_logins_is_cut_off_and_opens_no_session(running_app, attacks):
    email = unique_email("flood")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        token = csrf_token(client)

        def attempt(password: str) -> httpx.Response:
            return client.post(
                "/auth/login",
                json={"email": email, "password": password},
                headers={"X-CSRF-Token": token},
                timeout=60,  # the checked attempts each spend a bcrypt check
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            flood = list(pool.map(attempt, [f"guess-{n:04d}-wrong" for n in range(40)]))
        right = attempt(PASSWORD)  # the right password, once the limit is reached
    statuses = [r.status_code for r in flood]
    sessions = live_sessions(running_app, user_id)
    attacks.record(
        "login flood",
        got_through=bool(sessions) or statuses.count(400) > ACCOUNT_LIMIT,
        attempts=len(flood) + 1,
    )
    assert statuses.count(400) <= ACCOUNT_LIMIT  # at most the limit was checked
    assert statuses.count(429) >= len(flood) - ACCOUNT_LIMIT
    assert set(statuses) <= {400, 429}
    assert right.status_code == 429
    assert all(
        1 <= int(r.headers["Retry-After"]) <= 60 for r in [*flood, right] if r.status_code == 429
    )
    assert SESSION_COOKIE not in right.headers.get("set-cookie", "")
    assert sessions == []


def _raw_post(running_app, path: str, head: list[str], body: bytes) -> str:
    """Send a request head and the first bytes of its body; the status line back."""
    parts = urlsplit(running_app.url)
    request = "\r\n".join([f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", *head, "", ""])
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as connection:
        connection.sendall(request.encode() + body)
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_oversized_or_unsized_auth_bodies_are_refused_unread(running_app, attacks):
    """The auth routes sit outside the API's body limit: they keep their own, and answer
    before reading a body that declares more (or declares no length at all)."""
    email = unique_email("big")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        token = csrf_token(client)
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        head = [
            f"Origin: {running_app.url}",
            f"X-CSRF-Token: {token}",
            f"Cookie: {cookie}",
            "Content-Type: application/json",
        ]
        start = json.dumps({"email": email, "password": PASSWORD, "padding": ""})[:-2].encode()
        statuses = [
            _raw_post(running_app, "/auth/login", [*head, "Content-Length: 500000000"], start),
            _raw_post(running_app, "/auth/login", [*head, "Transfer-Encoding: chunked"], b""),
            _raw_post(running_app, "/auth/logout", [*head, "Content-Length: 17000"], b"{}"),
        ]
        fits = client.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD, "next": "/" + "x" * 1000},
            headers={"X-CSRF-Token": token},
            timeout=60,
        )
    refused = [status for status in statuses if " 413 " in status]
    attacks.record(
        "oversized bodies", got_through=len(refused) < len(statuses), attempts=len(statuses)
    )
    assert refused == statuses, statuses
    assert fits.status_code == 200
    assert len(live_sessions(running_app, user_id)) == 1


def test_another_users_api_key_reaches_nothing_of_theirs(running_app, supabase_stack, attacks):
    owner_id = create_verified_user(running_app, unique_email("owner"))
    chatbot_id = seed_app_chatbot(running_app, owner_id, supabase_stack, [{"table": "orders"}])
    engine = app_engine(running_app.db_url)
    pending = audit.start_event(
        user_id=owner_id,
        chatbot_id=chatbot_id,
        tool="select_rows",
        table_name="orders",
        operation="read",
        engine=engine,
    )
    audit.finish_event(pending, outcome="ok", rows_affected=None, engine=engine)
    with Session(engine, expire_on_commit=False) as session:
        owner_key = add_key(session, session.get(User, owner_id))
    intruder = new_key(engine)
    url = f"{running_app.url}/api/v1"
    tries = [
        ("GET", f"/chatbots/{chatbot_id}", None),
        (
            "PATCH",
            f"/chatbots/{chatbot_id}",
            {"name": "stolen", "grants": [{"table": "orders", "update": True}]},
        ),
        ("DELETE", f"/chatbots/{chatbot_id}", None),
    ]
    with httpx.Client(base_url=url, headers=bearer(intruder), timeout=30) as client:
        answers = [client.request(method, path, json=body) for method, path, body in tries]
        listed = client.get("/chatbots").json()["data"]
        audit_page = client.get("/audit", params={"chatbot_id": chatbot_id}).json()["data"]
        everything = client.get("/audit").json()["data"]
    with Session(engine) as session:
        stored = session.get(Chatbot, chatbot_id)
        grants = session.exec(select(TableGrant).where(TableGrant.chatbot_id == chatbot_id)).all()
        kept = (stored.name, [(g.table_name, g.can_update) for g in grants])
    seen = [answer.status_code for answer in answers]
    leaked = (
        any(status != 404 for status in seen)
        or any(bot["id"] == chatbot_id for bot in listed)
        or bool(audit_page)
        or any(event.get("chatbot_id") == chatbot_id for event in everything)
        or kept != ("Shop helper", [("orders", False)])
    )
    attacks.record("another user's API key", got_through=leaked, attempts=len(tries) + 3)
    assert seen == [404, 404, 404]
    assert all(answer.json()["error"]["code"] == "not_found" for answer in answers)
    assert chatbot_id not in {bot["id"] for bot in listed}
    assert audit_page == [] and everything == []
    assert kept == ("Shop helper", [("orders", False)])
    # The owner's own key sees both: the refusals above were not a broken set-up.
    own = httpx.get(f"{url}/chatbots/{chatbot_id}", headers=bearer(owner_key), timeout=30)
    assert own.status_code == 200
    own_audit = httpx.get(
        f"{url}/audit", params={"chatbot_id": chatbot_id}, headers=bearer(owner_key), timeout=30
    )
    assert [e["outcome"] for e in own_audit.json()["data"]] == ["ok", "pending"]


def test_concurrent_attempts_never_pass_the_limit(attacks):
    """The limiter itself: attempts released at the same instant from many threads are
    counted atomically, so exactly the limit gets through."""
    limiter = Limiter(MemoryStorage())
    start = Barrier(48)

    def attempt(_: int) -> bool:
        start.wait()
        try:
            limiter.hit([("5/minute", "login:account", "ada@example.com")])
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=48) as pool:
        passed = sum(pool.map(attempt, range(48)))
    attacks.record("login flood", got_through=passed > 5, attempts=48)
    assert passed == 5
