"""Helpers for attacks through the real agent: dumps of the user's database, one
scripted hostile turn, and what the model was shown."""

import json
from dataclasses import dataclass
from typing import Any

from heho_app.devtools.fake_openrouter import FakeOpenRouter
from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.models import AuditEvent
from heho_app.services.agent import ChatSession, TurnEnd, TurnEvent, run_turn
from tests.ops_helpers import audit_events

SAMPLE_TABLES = ("customers", "products", "orders", "notes")
HEHO_TABLES = ("heho_conversations", "heho_messages", "heho_memories")


def dump(stack: LocalSupabase, tables: tuple[str, ...] = SAMPLE_TABLES + HEHO_TABLES) -> tuple:
    """Every row of the user's tables in a stable order, in one query: two dumps compare
    equal exactly when nothing changed."""
    rows = "coalesce(jsonb_agg(to_jsonb(t) order by to_jsonb(t)::text), '[]')::text"
    parts = ", ".join(f"(select {rows} from public.{table} t)" for table in tables)  # noqa: S608
    return stack.execute(f"select {parts}")[0]


@dataclass
class TurnRecord:
    """One hostile turn: the agent's events, what the model saw, the audit it left."""

    events: list[TurnEvent]
    requests: list[dict[str, Any]]
    shown: list[dict[str, Any]]
    """The tool results the model received, in call order (the `result` of each)."""
    completions: list[AuditEvent]
    """The completing audit events of the model's calls (the prompt's own `recall` of
    memories is left out)."""

    @property
    def end(self) -> TurnEnd:
        last = self.events[-1]
        assert isinstance(last, TurnEnd), last
        return last

    def bodies(self) -> str:
        return json.dumps([r.get("body") for r in self.requests])


async def hostile_turn(
    chat: ChatSession,
    fake: FakeOpenRouter,
    user_id: int,
    *steps: dict[str, Any],
    user_text: str = "Please help me with my data.",
    conversation_id: str | None = None,
) -> TurnRecord:
    """Script the model's `steps`, run one real turn, and collect what happened."""
    seen_requests = len(fake.requests())
    seen_audit = {event.id for event in audit_events(user_id)}
    fake.script(*steps)
    events = [event async for event in run_turn(chat, user_text, conversation_id=conversation_id)]
    requests = fake.requests()[seen_requests:]
    shown: list[dict[str, Any]] = []
    if requests:
        for message in requests[-1]["body"]["messages"]:
            if message.get("role") == "tool":
                shown.append(json.loads(message["content"])["result"])
    completions = [
        event
        for event in audit_events(user_id)
        if event.id not in seen_audit and event.completes_id is not None
    ]
    if completions and completions[0].tool == "recall":
        completions = completions[1:]
    return TurnRecord(events, requests, shown, completions)


def call(name: str, arguments: dict[str, Any] | str | None = None) -> dict[str, Any]:
    """One scripted tool call (arguments may be raw, even invalid, JSON text)."""
    return {"name": name, "arguments": {} if arguments is None else arguments}


def eq(column: object, value: object) -> list[dict[str, Any]]:
    return [{"column": column, "op": "eq", "value": value}]
