"""Conversations and messages, kept in the user's own Supabase project.

They live in `heho_conversations` and `heho_messages` (see heho_app/sql/heho_tables.sql),
reached with the chatbot's connection. HeHo's own database never holds them.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from postgrest.exceptions import APIError
from supabase import AsyncClient

from heho_app.services.operations import ToolContext

MessageRole = Literal["user", "assistant", "tool"]
MessageStatus = Literal[
    "complete", "streaming", "failed", "interrupted", "stopped", "pending", "approved", "rejected"
]
CONVERSATIONS = "heho_conversations"
MESSAGES = "heho_messages"
TITLE_LENGTH = 80
HISTORY_LIMIT = 200


class ConversationStoreError(RuntimeError):
    """The user's project could not store or return a conversation."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _client(ctx: ToolContext) -> AsyncClient:
    return await ctx.client()


async def _run(query: Any, what: str) -> list[dict[str, Any]]:
    try:
        response = await query.execute()
    except APIError as error:
        raise ConversationStoreError(
            f"Your Supabase project refused to {what} ({error.code or 'error'}): "
            f"{error.message or 'no detail'}. Check that HeHo's tables exist and that the "
            "chatbot's key is the service key."
        ) from error
    return list(response.data or [])


async def list_conversations(ctx: ToolContext) -> list[dict[str, Any]]:
    client = await _client(ctx)
    return await _run(
        client.table(CONVERSATIONS)
        .select("id,title,created_at,updated_at")
        .eq("chatbot_id", ctx.chatbot.id)
        .order("updated_at", desc=True)
        .limit(200),
        "list conversations",
    )


async def create_conversation(ctx: ToolContext, title: str = "New conversation") -> dict[str, Any]:
    client = await _client(ctx)
    rows = await _run(
        client.table(CONVERSATIONS).insert(
            {"chatbot_id": ctx.chatbot.id, "title": title[:TITLE_LENGTH]}
        ),
        "create a conversation",
    )
    return rows[0]


async def rename_conversation(ctx: ToolContext, conversation_id: str, title: str) -> None:
    title = title.strip()[:TITLE_LENGTH]
    if not title:
        raise ValueError("A conversation needs a title.")
    client = await _client(ctx)
    await _run(
        client.table(CONVERSATIONS)
        .update({"title": title, "updated_at": _now()})
        .eq("id", conversation_id)
        .eq("chatbot_id", ctx.chatbot.id),
        "rename the conversation",
    )


async def delete_conversation(ctx: ToolContext, conversation_id: str) -> None:
    client = await _client(ctx)
    await _run(
        client.table(CONVERSATIONS)
        .delete()
        .eq("id", conversation_id)
        .eq("chatbot_id", ctx.chatbot.id),
        "delete the conversation",
    )


async def conversation_belongs(ctx: ToolContext, conversation_id: str) -> bool:
    client = await _client(ctx)
    rows = await _run(
        client.table(CONVERSATIONS)
        .select("id")
        .eq("id", conversation_id)
        .eq("chatbot_id", ctx.chatbot.id),
        "find the conversation",
    )
    return bool(rows)


async def list_messages(ctx: ToolContext, conversation_id: str) -> list[dict[str, Any]]:
    client = await _client(ctx)
    return await _run(
        client.table(MESSAGES)
        .select("id,role,content,status,tool_calls,created_at")
        .eq("conversation_id", conversation_id)
        .order("created_at")
        .limit(HISTORY_LIMIT),
        "read the conversation",
    )


async def add_message(
    ctx: ToolContext,
    conversation_id: str,
    *,
    role: MessageRole,
    content: str,
    status: MessageStatus = "complete",
    tool_calls: Any = None,
) -> dict[str, Any]:
    client = await _client(ctx)
    rows, _ = await asyncio.gather(
        _run(
            client.table(MESSAGES).insert(
                {
                    "conversation_id": conversation_id,
                    "role": role,
                    "content": content,
                    "status": status,
                    "tool_calls": tool_calls,
                }
            ),
            "save a message",
        ),
        _run(
            client.table(CONVERSATIONS).update({"updated_at": _now()}).eq("id", conversation_id),
            "update the conversation",
        ),
    )
    return rows[0]


async def update_message(
    ctx: ToolContext,
    message_id: str,
    *,
    content: str | None = None,
    status: MessageStatus | None = None,
    tool_calls: Any = None,
) -> None:
    values: dict[str, Any] = {}
    if content is not None:
        values["content"] = content
    if status is not None:
        values["status"] = status
    if tool_calls is not None:
        values["tool_calls"] = tool_calls
    client = await _client(ctx)
    await _run(client.table(MESSAGES).update(values).eq("id", message_id), "update a message")


async def get_message(ctx: ToolContext, conversation_id: str, message_id: str) -> dict | None:
    client = await _client(ctx)
    rows = await _run(
        client.table(MESSAGES)
        .select("id,role,content,status,tool_calls,created_at")
        .eq("id", message_id)
        .eq("conversation_id", conversation_id),
        "read a message",
    )
    return rows[0] if rows else None


async def claim_pending(ctx: ToolContext, message_id: str, status: MessageStatus) -> bool:
    """Move a pending action to `status` unless someone decided it first."""
    client = await _client(ctx)
    rows = await _run(
        client.table(MESSAGES)
        .update({"status": status})
        .eq("id", message_id)
        .eq("status", "pending"),
        "record the decision",
    )
    return bool(rows)
