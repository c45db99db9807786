"""The auth routes over real HTTP against the running app: CSRF, Origin, cookies,
rate limits, and the websocket's origin check."""

import socket
from urllib.parse import urlsplit

import httpx

from heho_app.security import CSRF_COOKIE, SESSION_COOKIE
from tests.fixtures.accounts import (
    PASSWORD,
    browser_like_client,
    create_verified_user,
    csrf_token,
    http_login,
    live_sessions,
    unique_email,
)

EVIL = "https://evil.example"


def test_login_sets_an_httponly_lax_session_cookie(running_app):
    email = unique_email("cookie")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        response = http_login(client, email)
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "redirect": "/account"}
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in set_cookie
        assert "SameSite=lax" in set_cookie or "SameSite=Lax" in set_cookie
        assert "Secure" not in set_cookie  # the test app runs on plain http
        assert "Max-Age=604800" in set_cookie
        assert response.cookies[SESSION_COOKIE] not in response.text
    assert len(live_sessions(running_app, user_id)) == 1


def test_login_without_csrf_token_is_refused_and_changes_nothing(running_app):
    email = unique_email("nocsrf")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        csrf_token(client)  # the browser has its CSRF cookie but sends no token
        response = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf"
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        wrong = client.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": "forged-token"},
        )
        assert wrong.status_code == 403
    assert live_sessions(running_app, user_id) == []


def test_login_from_another_origin_is_refused_and_changes_nothing(running_app):
    email = unique_email("origin")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        token = csrf_token(client)
        for headers in ({"Origin": EVIL}, {"Origin": "null"}):
            response = client.post(
                "/auth/login",
                json={"email": email, "password": PASSWORD},
                headers={"X-CSRF-Token": token, **headers},
            )
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "origin"
        # No Origin header at all.
        bare = httpx.post(
            f"{running_app.url}/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": token},
            cookies={CSRF_COOKIE: client.cookies[CSRF_COOKIE]},
        )
        assert bare.status_code == 403
    assert live_sessions(running_app, user_id) == []


def test_logout_needs_csrf_and_then_ends_the_session(running_app):
    email = unique_email("logout")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        assert http_login(client, email).status_code == 200
        refused = client.post("/auth/logout", json={})
        assert refused.status_code == 403
        evil = client.post(
            "/auth/logout", json={}, headers={"X-CSRF-Token": csrf_token(client), "Origin": EVIL}
        )
        assert evil.status_code == 403
        assert len(live_sessions(running_app, user_id)) == 1
        done = client.post("/auth/logout", json={}, headers={"X-CSRF-Token": csrf_token(client)})
        assert done.status_code == 200
        assert done.json()["redirect"] == "/login?logged_out=1"
        assert f'{SESSION_COOKIE}=""' in done.headers["set-cookie"]
    assert live_sessions(running_app, user_id) == []


def test_cors_does_not_let_another_site_read_a_csrf_token(running_app):
    response = httpx.get(f"{running_app.url}/auth/csrf", headers={"Origin": EVIL})
    assert response.headers.get("access-control-allow-origin") not in (EVIL, "*")
    own = httpx.get(f"{running_app.url}/auth/csrf", headers={"Origin": running_app.url})
    assert own.headers.get("access-control-allow-origin") == running_app.url


def test_next_cannot_lead_to_another_site(running_app):
    email = unique_email("next")
    create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        for target, expected in (
            ("/chatbots?x=1", "/chatbots?x=1"),
            ("//evil.example/x", "/account"),
            ("https://evil.example", "/account"),
            ("/\\evil.example", "/account"),
        ):
            token = csrf_token(client)
            response = client.post(
                "/auth/login",
                json={"email": email, "password": PASSWORD, "next": target},
                headers={"X-CSRF-Token": token},
            )
            assert response.json()["redirect"] == expected


def test_login_is_rate_limited_per_account_with_retry_after(running_app):
    email = unique_email("limit")
    create_verified_user(running_app, email)
    with browser_like_client(running_app) as client:
        statuses = [http_login(client, email, "wrong-password-000").status_code for _ in range(8)]
        assert statuses == [400] * 8
        limited = http_login(client, email)
        assert limited.status_code == 429
        retry_after = int(limited.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert f"Try again in {retry_after} s" in limited.json()["error"]["message"]


def _websocket_handshake(url: str, origin: str) -> str:
    """The status line the server answers to a socket.io websocket handshake."""
    parts = urlsplit(url)
    request = (
        f"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {parts.netloc}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_websocket_from_another_origin_is_refused(running_app):
    assert " 101 " in _websocket_handshake(running_app.url, running_app.url)
    refused = _websocket_handshake(running_app.url, EVIL)
    assert " 101 " not in refused
    assert refused.startswith("HTTP/1.1 4")
