"""State of /audit: the user's audit events, filtered, and their CSV export."""

import json
from datetime import timedelta
from typing import TypedDict

import reflex as rx

from heho_app.models import AuditEvent, utcnow
from heho_app.services import audit, chatbot_config
from heho_app.state.auth import current_user_id, login_redirect
from heho_app.state.common import run_service, when

ALL = "all"
PERIODS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}  # fmt: skip
OUTCOMES = ("ok", "denied", "failed", "pending")
PAGE_SIZE = 200
EXPORT_LIMIT = 10_000


class AuditRow(TypedDict):
    id: int
    when: str
    chatbot: str
    tool: str
    table: str
    operation: str
    filters: str
    rows: str
    outcome: str
    duration: str
    detail: str


class ChatbotChoice(TypedDict):
    id: str
    name: str


def _filters_text(raw: str) -> str:
    try:
        items = json.loads(raw or "[]")
    except ValueError:
        return raw[:200]
    parts = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            value = f" {item['value']}" if "value" in item else ""
            parts.append(f"{item.get('column')} {item.get('op')}{value}")
    return ", ".join(parts)[:300]


def _row(event: AuditEvent, names: dict[str, str]) -> AuditRow:
    return AuditRow(
        id=event.id or 0,
        when=when(event.created_at),
        chatbot=names.get(event.chatbot_id or "", event.chatbot_id or "—"),
        tool=event.tool,
        table=event.table_name or "—",
        operation=event.operation or "—",
        filters=_filters_text(event.filters),
        rows="" if event.rows_affected is None else str(event.rows_affected),
        outcome=event.outcome,
        duration="" if event.duration_ms is None else f"{event.duration_ms:.0f} ms",
        detail=(event.error_code or "")
        + (": " if event.error_code and event.detail else "")
        + (event.detail or ""),
    )


class AuditState(rx.State):
    events: list[AuditRow] = []
    chatbot_choices: list[ChatbotChoice] = []
    chatbot_filter: str = ALL
    table_filter: str = ""
    outcome_filter: str = ALL
    period: str = "7d"
    loading: bool = False

    async def _query(self, user_id: int, limit: int) -> list[AuditEvent]:
        return await run_service(
            audit.list_events,
            user_id=user_id,
            chatbot_id=None if self.chatbot_filter == ALL else self.chatbot_filter,
            table_name=self.table_filter.strip() or None,
            outcome=None if self.outcome_filter == ALL else self.outcome_filter,
            since=utcnow() - PERIODS[self.period] if self.period in PERIODS else None,
            calls_only=True,
            limit=limit,
        )

    async def _apply(self):
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        summaries = await run_service(chatbot_config.list_chatbots, user_id=user_id)
        names = {c.id: c.name for c in summaries}
        self.chatbot_choices = [ChatbotChoice(id=c.id, name=c.name) for c in summaries]
        self.events = [_row(e, names) for e in await self._query(user_id, PAGE_SIZE)]
        return None

    @rx.event
    async def load(self):
        self.loading = True
        result = await self._apply()
        self.loading = False
        return result

    @rx.event
    async def set_chatbot_filter(self, value: str):
        self.chatbot_filter = value
        return await self._apply()

    @rx.event
    async def set_outcome_filter(self, value: str):
        self.outcome_filter = value if value in OUTCOMES else ALL
        return await self._apply()

    @rx.event
    async def set_period(self, value: str):
        self.period = value if value in PERIODS else ALL
        return await self._apply()

    @rx.event
    async def set_table_filter(self, value: str):
        self.table_filter = value[:200]
        return await self._apply()

    @rx.event
    async def clear_filters(self):
        self.chatbot_filter = self.outcome_filter = ALL
        self.table_filter = ""
        self.period = "7d"
        redirect = await self._apply()
        return [rx.set_value("audit-table-filter", ""), *([redirect] if redirect else [])]

    @rx.event
    async def export(self):
        user_id = await current_user_id(self)
        if user_id is None:
            return login_redirect(self)
        data = audit.export_csv(await self._query(user_id, EXPORT_LIMIT))
        stamp = utcnow().strftime("%Y%m%d-%H%M")
        return rx.download(data=data, filename=f"heho-audit-{stamp}.csv", mime_type="text/csv")
