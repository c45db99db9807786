"""The API on PostgreSQL, HeHo's production database: one walk through every route."""

from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from sqlmodel import Session, select

from heho_app.api.access_log import AccessLogWriter
from heho_app.api.app import create_api
from heho_app.api.ratelimit import RateLimiter
from heho_app.db import make_engine, run_migrations
from heho_app.models import AccessLogEntry, AuditEvent
from tests.api.conftest import add_key, add_user, bearer


async def test_every_route_on_postgresql(postgres_url, monkeypatch):
    run_migrations(postgres_url)
    engine = make_engine(postgres_url)
    monkeypatch.setattr("heho_app.db.get_engine", lambda: engine)
    access_log = AccessLogWriter(engine_factory=lambda: engine)
    api = create_api(limiter=RateLimiter(), access_log=access_log)
    with Session(engine, expire_on_commit=False) as session:
        user = add_user(session, verified=True)
        key = add_key(session, user, limit=1000)
        t0 = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
        for seq in (1, 2):
            session.add(
                AuditEvent(
                    user_id=user.id,
                    seq=seq,
                    tool="select_rows",
                    table_name="orders",
                    outcome="ok",
                    created_at=t0 + timedelta(minutes=seq),
                    prev_hash="0" * 64,
                    row_hash="1" * 64,
                )
            )
        session.commit()

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://heho.test") as client:
        auth = bearer(key)
        assert (await client.post("/api/v1/verify-user", headers=auth)).json()["verified"]
        bot = await client.post(
            "/api/v1/chatbots", headers=auth, json={"name": "pg", "grants": [{"table": "t"}]}
        )
        assert bot.status_code == 201
        bot_id = bot.json()["id"]
        patched = await client.patch(
            f"/api/v1/chatbots/{bot_id}", headers=auth, json={"grants": [], "row_cap": 5}
        )
        assert (patched.json()["grants"], patched.json()["row_cap"]) == ([], 5)
        assert len((await client.get("/api/v1/chatbots", headers=auth)).json()["data"]) == 1
        since = quote((t0 + timedelta(minutes=2)).isoformat())
        events = (await client.get(f"/api/v1/audit?since={since}", headers=auth)).json()
        assert [event["seq"] for event in events["data"]] == [2]
        assert (await client.get("/api/v1/audit?table=%00", headers=auth)).status_code == 422
        assert (await client.get("/api/v1/chatbots/a%00", headers=auth)).status_code == 422
        bad = await client.post("/api/v1/chatbots", headers=auth, json={"name": "a\x00b"})
        assert bad.status_code == 422
        assert (await client.delete(f"/api/v1/chatbots/{bot_id}", headers=auth)).status_code == 204
        rotated = await client.post("/api/v1/keys/rotate", headers=auth)
        assert rotated.status_code == 201
        assert (await client.post("/api/v1/verify-user", headers=auth)).status_code == 401
        new_auth = bearer(rotated.json()["key"])
        assert (await client.post("/api/v1/verify-user", headers=new_auth)).status_code == 200

    assert access_log.flush()
    with Session(engine) as session:
        rows = session.exec(select(AccessLogEntry)).all()
        assert len(rows) == 12
        assert {row.key_prefix for row in rows} >= {key.info.prefix}
        assert "/api/v1/chatbots/a\\x00" in {row.path for row in rows}
    engine.dispose()
