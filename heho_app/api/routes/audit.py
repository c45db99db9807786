"""The caller's audit events, newest first."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from heho_app.api import API_PREFIX
from heho_app.api.deps import CurrentKey
from heho_app.api.schemas import AuditEventOut, AuditPage, AuditQuery
from heho_app.db import session_scope
from heho_app.models import AuditEvent

router = APIRouter(prefix=API_PREFIX, tags=["audit"])


@router.get("/audit")
def list_audit_events(query: Annotated[AuditQuery, Query()], key: CurrentKey) -> AuditPage:
    """Filter by chatbot, table, outcome and time (`since` inclusive, `until` exclusive)."""
    statement = select(AuditEvent).where(AuditEvent.user_id == key.user_id)
    if query.chatbot_id is not None:
        statement = statement.where(AuditEvent.chatbot_id == query.chatbot_id)
    if query.table is not None:
        statement = statement.where(AuditEvent.table_name == query.table)
    if query.outcome is not None:
        statement = statement.where(AuditEvent.outcome == query.outcome)
    if query.since is not None:
        statement = statement.where(col(AuditEvent.created_at) >= query.since)
    if query.until is not None:
        statement = statement.where(col(AuditEvent.created_at) < query.until)
    with session_scope() as session:
        rows = session.exec(
            statement.order_by(col(AuditEvent.seq).desc())
            .offset(query.offset)
            .limit(query.limit + 1)
        ).all()
        data = [AuditEventOut.of(event) for event in rows[: query.limit]]
    return AuditPage(
        data=data,
        limit=query.limit,
        offset=query.offset,
        has_more=len(rows) > query.limit,
    )
