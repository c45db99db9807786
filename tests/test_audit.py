"""The audit chain: append-only evidence, tampering caught by `heho audit verify`."""

import csv
import hashlib
import io
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from heho_app.cli import main
from heho_app.db import get_engine, session_scope
from heho_app.services import audit
from heho_app.services.credentials import get_keyring
from heho_app.services.crypto import Keyring, generate_key_spec
from heho_app.services.operations import run_tool
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.ops_helpers import audit_events


def _calls(user_id: int, count: int, chatbot_id: str = "bot") -> None:
    for index in range(count):
        pending = audit.start_event(
            user_id=user_id, tool="select_rows", chatbot_id=chatbot_id, table_name=f"t{index % 2}"
        )
        audit.finish_event(pending, outcome="ok" if index % 3 else "denied", duration_ms=1.5)


def test_chain_verifies(heho_user):
    _calls(heho_user.id, 5)
    report = audit.verify_chain(heho_user.id)
    assert report.ok and report.events_checked == 10
    assert [e.seq for e in audit_events(heho_user.id)] == list(range(1, 11))


def test_edited_event_is_caught(heho_user, capsys):
    _calls(heho_user.id, 4)
    victim = audit_events(heho_user.id)[4]
    with get_engine().begin() as conn:
        conn.execute(
            text("update audit_events set outcome = 'ok', detail = null where id = :id"),
            {"id": victim.id},
        )
    report = audit.verify_chain(heho_user.id)
    assert not report.ok
    (link,) = report.broken
    assert (link.seq, link.event_id) == (5, victim.id)
    assert "edited" in link.reason
    assert main(["audit", "verify", "--user-id", str(heho_user.id)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "seq 5" in out


def test_removed_event_is_caught(heho_user, capsys):
    _calls(heho_user.id, 4)
    victim = audit_events(heho_user.id)[2]
    with get_engine().begin() as conn:
        conn.execute(text("delete from audit_events where id = :id"), {"id": victim.id})
    report = audit.verify_chain(heho_user.id)
    (link,) = report.broken
    assert link.seq == 3 and "missing" in link.reason
    assert main(["audit", "verify"]) == 1
    assert f"user {heho_user.id}: first broken link at seq 3" in capsys.readouterr().out


def test_replaced_chain_tail_is_caught(heho_user):
    """Deleting an event and renumbering the rest does not hide it: prev_hash breaks."""
    _calls(heho_user.id, 3)
    events = audit_events(heho_user.id)
    with get_engine().begin() as conn:
        conn.execute(text("delete from audit_events where id = :id"), {"id": events[1].id})
        for event in events[2:]:
            conn.execute(
                text("update audit_events set seq = seq - 1 where id = :id"), {"id": event.id}
            )
    (link,) = audit.verify_chain(heho_user.id).broken
    assert link.seq == 2 and "prev_hash" in link.reason


def test_verify_command_ok(heho_user, capsys):
    _calls(heho_user.id, 2)
    assert main(["audit", "verify", "--user-id", str(heho_user.id)]) == 0
    assert "OK: 4 audit events" in capsys.readouterr().out


def test_concurrent_writers_keep_one_chain(heho_user):
    threads = [threading.Thread(target=_calls, args=(heho_user.id, 10)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = audit.verify_chain(heho_user.id)
    assert report.ok and report.events_checked == 80


def test_stale_head_from_another_writer_is_recovered(heho_user):
    """Another process appended behind this one's cached head: the append re-reads it."""
    _calls(heho_user.id, 1)
    key = (str(get_engine().url), heho_user.id)
    cached = audit._heads[key]
    _calls(heho_user.id, 1)
    audit._heads[key] = cached  # as if the last append had happened elsewhere
    _calls(heho_user.id, 1)
    assert audit.verify_chain(heho_user.id).ok


def test_vanished_head_is_recovered(heho_user):
    """The cached head's events are gone (e.g. a deleted user's id reused): start afresh."""
    _calls(heho_user.id, 2)
    with get_engine().begin() as conn:
        conn.execute(text("delete from audit_events where user_id = :u"), {"u": heho_user.id})
    _calls(heho_user.id, 1)
    assert [e.seq for e in audit_events(heho_user.id)] == [1, 2]
    assert audit.verify_chain(heho_user.id).ok


def test_list_events_filters(heho_user):
    _calls(heho_user.id, 6, chatbot_id="bot-a")
    _calls(heho_user.id, 2, chatbot_id="bot-b")
    with session_scope() as session:
        every = audit.list_events(session, user_id=heho_user.id)
        assert len(every) == 16 and every[0].seq == 16
        assert len(audit.list_events(session, user_id=heho_user.id, chatbot_id="bot-b")) == 4
        t0 = audit.list_events(session, user_id=heho_user.id, chatbot_id="bot-a", table_name="t0")
        assert len(t0) == 6
        denied = audit.list_events(session, user_id=heho_user.id, outcome="denied")
        assert {e.outcome for e in denied} == {"denied"} and len(denied) == 3
        future = datetime.now(UTC) + timedelta(minutes=1)
        assert audit.list_events(session, user_id=heho_user.id, since=future) == []
        assert len(audit.list_events(session, user_id=heho_user.id, until=future)) == 16
        assert audit.list_events(session, user_id=heho_user.id + 1000) == []


def test_calls_only_shows_one_event_per_call_and_unfinished_ones(heho_user):
    _calls(heho_user.id, 3)
    unfinished = audit.start_event(user_id=heho_user.id, tool="delete_rows", table_name="orders")
    with session_scope() as session:
        calls = audit.list_events(session, user_id=heho_user.id, calls_only=True)
        assert [e.outcome for e in calls] == ["pending", "ok", "ok", "denied"]
        assert calls[0].id == unfinished.id
        stuck = audit.list_events(session, user_id=heho_user.id, calls_only=True, outcome="pending")
        assert [e.id for e in stuck] == [unfinished.id]


async def test_csv_export_has_metadata_not_values(tool_context, heho_user):
    ctx = await tool_context([{"table": "customers"}])
    filters = [{"column": "email", "op": "eq", "value": "secret@example.com"}]
    await run_tool(ctx, "select_rows", {"table": "customers", "filters": filters})
    with session_scope() as session:
        exported = audit.export_csv(audit.list_events(session, user_id=heho_user.id))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["outcome"] for r in rows] == ["ok", "pending"]
    assert rows[0]["table_name"] == "customers" and rows[0]["tool"] == "select_rows"
    assert "email" in rows[0]["filters"]
    assert "secret@example.com" not in exported
    assert rows[0]["row_hash"] == audit_events(heho_user.id)[1].row_hash


def test_chain_on_postgresql(local_supabase):
    """Production runs HeHo's database on PostgreSQL: the same append and verify there."""
    from sqlmodel import Session

    from heho_app.db import make_engine, run_migrations
    from heho_app.models import User

    local_supabase.execute("drop database if exists heho_audit")
    local_supabase.execute("create database heho_audit")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{local_supabase.pg_port}/heho_audit"
    run_migrations(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            user = User(email="pg@example.com", password_hash="!")
            session.add(user)
            session.commit()
            user_id = user.id
        for outcome in ("ok", "denied", "failed"):
            pending = audit.start_event(user_id=user_id, tool="select_rows", engine=engine)
            audit.finish_event(pending, outcome=outcome, duration_ms=2.25, engine=engine)
        assert audit.verify_chain(user_id, engine=engine).ok
        with engine.begin() as conn:
            conn.execute(text("update audit_events set rows_affected = 7 where seq = 4"))
        (link,) = audit.verify_chain(user_id, engine=engine).broken
        assert link.seq == 4
    finally:
        engine.dispose()


def test_a_chain_resealed_without_the_key_is_caught(heho_user):
    """Whoever edits an event and recomputes every later seal, but without the key
    (plain SHA-256, or another key), still leaves a chain that does not verify."""
    _calls(heho_user.id, 3)
    for forged_seal in (
        lambda fields: hashlib.sha256(audit.canonical_json(fields)).hexdigest(),
        lambda fields: audit.compute_hash(fields, b"x" * 32),
    ):
        events = [e.model_dump() for e in audit_events(heho_user.id)]
        events[1]["outcome"] = "denied"
        prev_hash = events[0]["row_hash"]
        with get_engine().begin() as conn:
            for fields in events[1:]:
                fields["prev_hash"] = prev_hash
                fields["row_hash"] = prev_hash = forged_seal(fields)
                conn.execute(
                    text(
                        "update audit_events set outcome = :outcome, prev_hash = :prev_hash, "
                        "row_hash = :row_hash where id = :id"
                    ),
                    fields,
                )
        (link,) = audit.verify_chain(heho_user.id).broken
        assert (link.seq, link.event_id) == (2, events[1]["id"])
        assert "edited" in link.reason


def test_key_rotation_reseals_the_chains_so_the_old_key_can_go(db, heho_user, monkeypatch):
    _calls(heho_user.id, 3)
    old = get_keyring()
    new_spec = f"{generate_key_spec('next')},test1:{TEST_ENCRYPTION_KEY}"
    new_only = Keyring.parse(new_spec.split(",")[0])
    assert not audit.verify_chain(heho_user.id, keyring=new_only).ok

    report = audit.reseal_under_primary_key(Keyring.parse(new_spec))

    assert report == audit.ResealReport(resealed=6, broken_users=[])
    assert audit.verify_chain(heho_user.id, keyring=new_only).ok
    assert not audit.verify_chain(heho_user.id, keyring=old).ok
    # Appends after the reseal continue the chain (the cached head was dropped).
    monkeypatch.setattr(audit, "get_keyring", lambda: new_only)
    _calls(heho_user.id, 1)
    report = audit.verify_chain(heho_user.id)
    assert report.ok and report.events_checked == 8
