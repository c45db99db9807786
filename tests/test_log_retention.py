"""HEHO_LOG_RETENTION_DAYS: the API access log and the key access log are deleted
when they are older, by the app itself (heho_app/services/log_retention.py)."""

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import col, select

from heho_app import settings as settings_module
from heho_app.models import AccessLogEntry, KeyAccessEvent, utcnow
from heho_app.services.log_retention import Pruned, prune_logs, prune_logs_periodically
from tests.api.conftest import add_user


def add_entries(db, user_id: int, ages_in_days: list[float]) -> None:
    now = utcnow()
    for age in ages_in_days:
        created = now - timedelta(days=age)
        db.add(
            AccessLogEntry(
                user_id=user_id,
                method="GET",
                path=f"/api/v1/chatbots?age={age}",
                status=200,
                duration_ms=1,
                client_address="203.0.113.9",
                created_at=created,
            )
        )
        db.add(
            KeyAccessEvent(
                user_id=user_id,
                credential_kind="openrouter",
                purpose=f"chat {age}",
                created_at=created,
            )
        )
    db.commit()


def kept(db) -> tuple[list[str], list[str]]:
    db.expire_all()
    paths = db.exec(select(AccessLogEntry.path).order_by(col(AccessLogEntry.id))).all()
    purposes = db.exec(select(KeyAccessEvent.purpose).order_by(col(KeyAccessEvent.id))).all()
    return list(paths), list(purposes)


def test_entries_past_the_retention_are_deleted_and_the_rest_kept(db):
    user = add_user(db, verified=True)
    add_entries(db, user.id, [200, 91, 89, 0])

    assert prune_logs(db) == Pruned(access_log=2, key_access_log=2)
    db.commit()

    assert kept(db) == (
        ["/api/v1/chatbots?age=89", "/api/v1/chatbots?age=0"],
        ["chat 89", "chat 0"],
    )
    assert prune_logs(db) == Pruned(access_log=0, key_access_log=0)


def test_the_retention_is_configurable(db, monkeypatch):
    monkeypatch.setenv("HEHO_LOG_RETENTION_DAYS", "7")
    settings_module._settings_for_mode.cache_clear()
    try:
        user = add_user(db, verified=True)
        add_entries(db, user.id, [8, 6])
        assert prune_logs(db) == Pruned(access_log=1, key_access_log=1)
        db.commit()
        assert kept(db) == (["/api/v1/chatbots?age=6"], ["chat 6"])
    finally:
        monkeypatch.delenv("HEHO_LOG_RETENTION_DAYS")
        settings_module._settings_for_mode.cache_clear()


def test_a_retention_under_one_day_is_refused(monkeypatch):
    monkeypatch.setenv("HEHO_LOG_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="HEHO_LOG_RETENTION_DAYS"):
        settings_module.Settings()


async def test_the_app_prunes_on_start_and_then_periodically(db):
    user = add_user(db, verified=True)
    add_entries(db, user.id, [100, 1])
    task = asyncio.create_task(prune_logs_periodically(interval=0.05))
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while kept(db)[0] != ["/api/v1/chatbots?age=1"]:
            assert asyncio.get_running_loop().time() < deadline, "nothing was pruned"
            await asyncio.sleep(0.02)
        add_entries(db, user.id, [95])  # arrives after the first pass
        while kept(db)[1] != ["chat 1"]:
            assert asyncio.get_running_loop().time() < deadline, "no second pass"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert kept(db) == (["/api/v1/chatbots?age=1"], ["chat 1"])
