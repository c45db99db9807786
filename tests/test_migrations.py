import hashlib
from datetime import UTC, datetime

from sqlalchemy import create_engine, insert, inspect
from sqlmodel import Session, select

from heho_app.db import downgrade, make_engine, run_migrations
from heho_app.models import AuditEvent, User
from heho_app.services import audit
from tests.conftest import TEST_ROOT

HEHO_TABLES = {
    "users",
    "user_sessions",
    "chatbots",
    "table_grants",
    "credentials",
    "api_keys",
    "audit_events",
    "access_log",
    "key_access_log",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _up_down_up(url: str) -> None:
    run_migrations(url)
    assert _tables(url) == HEHO_TABLES
    downgrade(url, "base")
    assert _tables(url) == set()
    run_migrations(url)
    assert _tables(url) == HEHO_TABLES


def test_upgrade_downgrade_upgrade_on_sqlite():
    _up_down_up(f"sqlite:///{TEST_ROOT / 'migrations.db'}")


def test_upgrade_downgrade_upgrade_on_postgresql(postgres_url):
    _up_down_up(postgres_url)


def _legacy_chain(user_id: int, count: int) -> list[dict]:
    """Events as 0001 sealed them: a plain SHA-256 chain."""
    events, prev_hash = [], audit.GENESIS_HASH
    for seq in range(1, count + 1):
        fields = {
            "user_id": user_id, "seq": seq, "chatbot_id": "bot", "conversation_id": None,
            "completes_id": None, "tool": "select_rows", "table_name": "orders",
            "operation": "read", "filters": "[]", "rows_affected": seq, "outcome": "ok",
            "duration_ms": 1.5, "error_code": None, "detail": None,
            "created_at": datetime(2026, 12, 1, 12, seq, tzinfo=UTC), "prev_hash": prev_hash,
        }  # fmt: skip
        fields["row_hash"] = hashlib.sha256(audit.canonical_json(fields)).hexdigest()
        prev_hash = fields["row_hash"]
        events.append(fields)
    return events


def _seal_upgrade_and_back(url: str) -> None:
    run_migrations(url, "0001")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            intact, edited = (User(email=f"{n}@example.com", password_hash="x") for n in "ab")
            session.add_all([intact, edited])
            session.commit()
            intact_id, edited_id = intact.id, edited.id
            tampered = _legacy_chain(edited_id, 3)
            tampered[1]["detail"] = "edited after sealing"
            session.execute(insert(AuditEvent), [*_legacy_chain(intact_id, 3), *tampered])
            session.commit()
            legacy_hashes = [e.row_hash for e in session.exec(select(AuditEvent)).all()]

        run_migrations(url)
        report = audit.verify_chain(engine=engine)
        assert [(link.user_id, link.seq) for link in report.broken] == [(edited_id, 2)]
        assert audit.verify_chain(intact_id, engine=engine).events_checked == 3
        with Session(engine) as session:
            rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
            # Sealed with the key up to the edited event; from there left as it was.
            assert [e.row_hash for e in rows][4:] == legacy_hashes[4:]
            assert not {e.row_hash for e in rows[:4]} & set(legacy_hashes)

        downgrade(url, "0001")
        with Session(engine) as session:
            rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
            assert [e.row_hash for e in rows] == legacy_hashes
    finally:
        engine.dispose()


def test_the_audit_seal_gets_a_key_on_sqlite():
    path = TEST_ROOT / "seal-migration.db"
    path.unlink(missing_ok=True)
    _seal_upgrade_and_back(f"sqlite:///{path}")


def test_the_audit_seal_gets_a_key_on_postgresql(postgres_url):
    _seal_upgrade_and_back(postgres_url)
