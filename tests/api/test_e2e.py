"""The REST API over real HTTP, served by `reflex run --env prod`."""

import asyncio
import time
from collections import Counter

import httpx
import pytest
from sqlmodel import Session, col, select

from heho_app.models import AccessLogEntry
from tests.api.conftest import bearer
from tests.api.e2e_helpers import new_key

ISSUED: list[str] = []  # every key this module made: none may show up in the app's log


@pytest.fixture
def issue(app_db):
    def make(limit: int | None = None):
        key = new_key(app_db, limit=limit)
        ISSUED.append(key.plaintext)
        return key

    return make


def test_a_key_works_over_http_and_gets_rate_limit_headers(running_app, issue):
    key = issue()
    response = httpx.post(f"{running_app.url}/api/v1/verify-user", headers=bearer(key))
    assert response.status_code == 200
    assert response.json()["verified"] is True
    assert response.headers["x-ratelimit-limit"] == "60"
    assert response.headers["x-ratelimit-remaining"] == "59"


async def test_a_burst_of_100_with_a_limit_of_60_over_http(running_app, issue):
    key = issue(limit=60)
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=running_app.url, limits=limits, timeout=30) as client:
        responses = await asyncio.gather(
            *(client.get("/api/v1/chatbots", headers=bearer(key)) for _ in range(100))
        )
    assert Counter(r.status_code for r in responses) == {200: 60, 429: 40}
    assert all(int(r.headers["retry-after"]) >= 1 for r in responses if r.status_code == 429)


def test_refused_keys_over_http(running_app, issue):
    key = issue()
    url = running_app.url
    assert (
        httpx.get(f"{url}/api/v1/chatbots", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    in_query = httpx.get(
        f"{url}/api/v1/chatbots", params={"api_key": key.info.prefix}, headers=bearer(key)
    )
    assert (in_query.status_code, in_query.json()["error"]["code"]) == (400, "key_in_url")
    rotated = httpx.post(f"{url}/api/v1/keys/rotate", headers=bearer(key))
    assert rotated.status_code == 201
    ISSUED.append(rotated.json()["key"])
    assert httpx.get(f"{url}/api/v1/chatbots", headers=bearer(key)).status_code == 401
    new = rotated.json()["key"]
    assert httpx.get(f"{url}/api/v1/chatbots", headers=bearer(new)).status_code == 200


def test_body_limits_over_http(running_app, issue):
    key = issue()

    def stream():
        for _ in range(20):
            yield b" " * 65_536

    url = f"{running_app.url}/api/v1/chatbots"
    assert httpx.post(url, headers=bearer(key), content=stream()).status_code == 413
    headers = bearer(key) | {"Content-Type": "text/plain"}
    assert httpx.post(url, headers=headers, content=b"{}").status_code == 415
    created = httpx.post(url, headers=bearer(key), json={"name": "over http"})
    assert created.status_code == 201


def test_the_app_writes_access_log_rows_with_the_prefix_only(running_app, issue, app_db):
    key = issue()
    started = time.time()
    httpx.post(f"{running_app.url}/api/v1/verify-user", headers=bearer(key))
    deadline = time.monotonic() + 10
    rows: list[AccessLogEntry] = []
    while time.monotonic() < deadline and not rows:
        with Session(app_db) as session:
            rows = list(
                session.exec(
                    select(AccessLogEntry)
                    .where(AccessLogEntry.key_prefix == key.info.prefix)
                    .order_by(col(AccessLogEntry.id))
                ).all()
            )
        time.sleep(0.1)
    assert [(r.method, r.path, r.status) for r in rows] == [("POST", "/api/v1/verify-user", 200)]
    assert rows[0].client_address == "127.0.0.1"
    assert rows[0].created_at.timestamp() >= started - 1


def test_no_key_appears_in_the_apps_log(running_app):
    """Runs last in this module: every key used above, none of them in the log."""
    log = running_app.log_text()
    assert ISSUED
    for plaintext in ISSUED:
        assert plaintext.rsplit("_", 1)[1] not in log


def test_the_app_serves_the_spec_the_api_builds(running_app):
    from heho_app.api.app import create_api

    served = httpx.get(f"{running_app.url}/api/v1/openapi.json").json()
    assert served == create_api().openapi()
    assert httpx.get(f"{running_app.url}/api/v1/docs").status_code == 200
