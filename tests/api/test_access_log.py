import logging

from sqlmodel import col, select

from heho_app.api.access_log import loggable_path
from heho_app.models import AccessLogEntry, ApiKey
from tests.api.conftest import CLIENT_ADDRESS, bearer


def entries(db, access_log):
    assert access_log.flush()
    db.expire_all()
    return db.exec(select(AccessLogEntry).order_by(col(AccessLogEntry.id))).all()


async def test_every_request_is_logged_with_prefix_but_never_the_key(
    client, db, access_log, user, make_key, caplog
):
    key = make_key(user, limit=2)
    caplog.set_level(logging.DEBUG)
    await client.get("/api/v1/health")
    await client.get("/api/v1/chatbots?limit=5", headers=bearer(key))
    await client.post("/api/v1/chatbots", headers=bearer(key), json={"name": ""})
    await client.get("/api/v1/chatbots", headers=bearer(key))  # third: over the limit
    await client.get("/api/v1/chatbots", headers={"Authorization": f"Bearer {key.plaintext}x"})
    await client.get(f"/api/v1/chatbots?token={key.plaintext}", headers=bearer(key))

    rows = entries(db, access_log)
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("GET", "/api/v1/health", 200),
        ("GET", "/api/v1/chatbots?limit=", 200),
        ("POST", "/api/v1/chatbots", 422),
        ("GET", "/api/v1/chatbots", 429),
        ("GET", "/api/v1/chatbots", 401),
        ("GET", "/api/v1/chatbots?token=", 400),
    ]
    prefix = key.info.prefix
    assert [(r.key_prefix, r.user_id) for r in rows] == [
        (None, None),
        (prefix, user.id),
        (prefix, user.id),
        (prefix, user.id),
        (None, None),
        (None, None),
    ]
    assert all(r.client_address == CLIENT_ADDRESS and r.duration_ms >= 0 for r in rows)
    assert all(r.created_at is not None for r in rows)

    secret = key.plaintext.rsplit("_", 1)[1]
    for row in rows:
        assert secret not in str(row.model_dump())
    # The test's own HTTP client logs the URL it was told to call (which is exactly
    # why keys must never be put in URLs); everything on the server side is clean.
    server_side = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx")
    assert server_side and secret not in server_side

    stored = db.get(ApiKey, key.info.id)
    db.refresh(stored)
    assert stored.last_used_at is not None


def test_paths_are_logged_without_query_values_or_key_like_segments():
    key = "heho_0123456789ab_" + "S" * 43
    assert loggable_path("/api/v1/audit", b"table=orders&since=2026") == (
        "/api/v1/audit?table=&since="
    )
    assert "S" * 43 not in loggable_path(f"/api/v1/chatbots/{key}", b"")
    assert "S" * 43 not in loggable_path("/api/v1/x", f"{key}=1".encode())
    assert len(loggable_path("/api/v1/" + "a" * 1000, b"")) == 500
    assert loggable_path("/api/v1/a\x00b\udcff", b"n%00=1") == "/api/v1/a\\x00b\\udcff?n\\x00="


async def test_a_database_outage_does_not_fail_requests(
    client, db, access_log, monkeypatch, caplog
):
    def down(_batch):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(access_log, "_write", down)
    with caplog.at_level(logging.ERROR, logger="heho_app.api.access_log"):
        assert (await client.get("/api/v1/health")).status_code == 200
        assert access_log.flush()
    assert "could not write 1 access log records" in caplog.text


async def test_behind_a_trusted_proxy_the_address_it_saw_is_logged(
    client, db, access_log, monkeypatch
):
    from heho_app.settings import get_settings

    # The client forged the first entry; the one proxy in front appended the real one.
    forwarded = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    await client.get("/api/v1/health", headers=forwarded)
    monkeypatch.setattr(get_settings(), "trusted_proxy_hops", 1)
    await client.get("/api/v1/health", headers=forwarded)
    await client.get("/api/v1/health")  # no header: the socket's address

    rows = entries(db, access_log)
    assert [r.client_address for r in rows] == [CLIENT_ADDRESS, "198.51.100.7", CLIENT_ADDRESS]
