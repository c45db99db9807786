"""Helpers for the gate's tests: database snapshots and audit look-ups."""

from sqlmodel import select

from heho_app.db import session_scope
from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.models import AuditEvent

SAMPLE = ("customers", "products", "orders", "notes")


def snapshot(stack: LocalSupabase) -> dict[str, list[tuple]]:
    """Every sample row, to show that a refused call changed nothing."""
    return {t: stack.execute(f"select * from public.{t} order by id") for t in SAMPLE}  # noqa: S608


def audit_events(user_id: int) -> list[AuditEvent]:
    with session_scope() as session:
        query = select(AuditEvent).where(AuditEvent.user_id == user_id).order_by(AuditEvent.seq)
        return list(session.exec(query).all())


def last_completion(user_id: int) -> AuditEvent:
    """The completing event of the user's latest call (and check its pending twin)."""
    events = audit_events(user_id)
    done = events[-1]
    pending = next(e for e in events if e.id == done.completes_id)
    assert pending.outcome == "pending"
    assert (pending.tool, pending.table_name) == (done.tool, done.table_name)
    return done
