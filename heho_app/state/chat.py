"""The chat page: conversations, the streaming answer, tool cards and approvals.

Every handler opens the chatbot through the agent service for the signed-in
owner; keys are decrypted inside those calls and never reach a var. While an
answer streams, text is gathered and sent to the page at most every
`FLUSH_SECONDS`, so a fast model does not flood the websocket.
"""

import asyncio
import json
import time
from typing import Any, TypedDict

import reflex as rx

from heho_app.services import conversations
from heho_app.services.agent import (
    SCHEMA_MAX_AGE,
    AgentSetupError,
    ApprovalError,
    ApprovalNeeded,
    TextChunk,
    ToolActivity,
    TurnEnd,
    activity_summary,
    chatbot_profile,
    decide_action,
    open_chat,
    project,
    run_turn,
)
from heho_app.services.chatbot_config import THEME_ACCENTS
from heho_app.services.conversations import ConversationStoreError
from heho_app.state.auth import current_user_id, login_redirect

FLUSH_SECONDS = 0.05
MAX_MESSAGE_LENGTH = 20_000
CUT_OFF_NOTICE = "The model stopped at its length limit: the answer may be cut off."
OUTCOME_LABELS = {
    "ok": "done",
    "denied": "refused",
    "failed": "failed",
    "pending": "sent for approval",
}

CHAT_ERRORS = (AgentSetupError, ConversationStoreError, ApprovalError, ValueError)

# The task streaming an answer, per browser tab, so that Stop can cancel it. A tab's
# websocket stays on one worker, so its Stop reaches the process that runs the task.
_running_turns: dict[str, asyncio.Task] = {}


class ConversationItem(TypedDict):
    id: str
    title: str


class ToolCard(TypedDict):
    name: str
    table: str
    outcome: str
    label: str
    count: str
    reason: str


class MessageItem(TypedDict):
    id: str
    role: str
    content: str
    status: str
    tools: list[ToolCard]
    action: str


def tool_card(summary: dict[str, Any]) -> ToolCard:
    count = summary.get("count")
    return ToolCard(
        name=str(summary.get("name", "")),
        table=str(summary.get("table", "")),
        outcome=str(summary.get("outcome", "")),
        label=OUTCOME_LABELS.get(str(summary.get("outcome")), str(summary.get("outcome"))),
        count="" if count is None else f"{count} row{'s' if count != 1 else ''}",
        reason=str(summary.get("reason") or ""),
    )


def action_text(action: dict[str, Any]) -> str:
    """What a pending write would do, shown on its approval card."""
    arguments = {k: v for k, v in action.get("arguments", {}).items() if k != "table"}
    return json.dumps(arguments, indent=2, ensure_ascii=False, default=str)[:4000]


def message_item(row: dict[str, Any]) -> MessageItem:
    """A stored message as the page shows it."""
    if row["role"] == "tool":
        action = row.get("tool_calls") or {}
        result = action.get("result") or {}
        card = tool_card(
            {
                "name": action.get("name", ""),
                "table": action.get("arguments", {}).get("table", ""),
                "outcome": result.get("outcome", "pending"),
                "count": result.get("count"),
                "reason": result.get("reason") or "",
            }
        )
        return MessageItem(
            id=row["id"],
            role="action",
            content=row["content"],
            status=row["status"],
            tools=[card],
            action=action_text(action),
        )
    tools = row.get("tool_calls") or []
    return MessageItem(
        id=row["id"],
        role=row["role"],
        content=row["content"],
        status=row["status"],
        tools=[tool_card(summary) for summary in tools if isinstance(summary, dict)],
        action="",
    )


class ChatState(rx.State):
    chatbot_name: str = ""
    theme: str = "twilight"
    conversations: list[ConversationItem] = []
    conversation_id: str = ""
    messages: list[MessageItem] = []
    streaming_text: str = ""
    streaming_tools: list[ToolCard] = []
    streaming: bool = False
    loading: bool = False
    draft: str = ""
    error: str = ""
    rename_title: str = ""
    last_user_text: str = ""

    @rx.var
    def accent(self) -> str:
        return THEME_ACCENTS.get(self.theme, "indigo")

    @rx.var
    def can_retry(self) -> bool:
        return (
            not self.streaming
            and bool(self.last_user_text)
            and bool(self.messages)
            and self.messages[-1]["role"] == "assistant"
            and self.messages[-1]["status"] in ("failed", "interrupted", "stopped")
        )

    def _chatbot_id(self) -> str:
        return str(self.router.page.params.get("chatbot_id", ""))

    def _token(self) -> str:
        return self.router.session.client_token

    async def _show_error(self, error: Exception) -> None:
        async with self:
            self.error = getattr(error, "message", str(error))

    @rx.event
    def set_draft(self, value: str):
        self.draft = value

    @rx.event
    def set_rename_title(self, value: str):
        self.rename_title = value

    @rx.event(background=True)
    async def load(self):
        """on_load: the chatbot, its conversations, and the newest one's messages."""
        async with self:
            user_id = await current_user_id(self)
            if user_id is None:
                return login_redirect(self)
            chatbot_id = self._chatbot_id()
            self.loading, self.error = True, ""
            self.messages, self.conversations, self.conversation_id = [], [], ""
            self.streaming_text, self.streaming_tools = "", []
        try:
            profile = chatbot_profile(user_id, chatbot_id)
            async with self:
                self.chatbot_name, self.theme = profile.name, profile.theme
            async with project(user_id, chatbot_id, purpose="chat: list conversations") as tools:
                listed = await conversations.list_conversations(tools)
                rows = await conversations.list_messages(tools, listed[0]["id"]) if listed else []
        except CHAT_ERRORS as error:
            async with self:
                self.loading = False
            await self._show_error(error)
            return None
        async with self:
            self.conversations = [ConversationItem(id=c["id"], title=c["title"]) for c in listed]
            self.conversation_id = listed[0]["id"] if listed else ""
            self.messages = [message_item(row) for row in rows]
            self.last_user_text = _last_user_text(self.messages)
            self.loading = False
        return None

    @rx.event(background=True)
    async def open_conversation(self, conversation_id: str):
        async with self:
            user_id = await current_user_id(self)
            if user_id is None or self.streaming:
                return
            chatbot_id = self._chatbot_id()
            self.conversation_id, self.error = conversation_id, ""
        try:
            async with project(user_id, chatbot_id, purpose="chat: open conversation") as tools:
                rows = await conversations.list_messages(tools, conversation_id)
        except CHAT_ERRORS as error:
            await self._show_error(error)
            return
        async with self:
            self.messages = [message_item(row) for row in rows]
            self.last_user_text = _last_user_text(self.messages)

    @rx.event(background=True)
    async def new_conversation(self):
        async with self:
            user_id = await current_user_id(self)
            if user_id is None or self.streaming:
                return
            chatbot_id = self._chatbot_id()
        try:
            async with project(user_id, chatbot_id, purpose="chat: new conversation") as tools:
                created = await conversations.create_conversation(tools)
        except CHAT_ERRORS as error:
            await self._show_error(error)
            return
        async with self:
            self.conversations = [
                ConversationItem(id=created["id"], title=created["title"]),
                *self.conversations,
            ]
            self.conversation_id = created["id"]
            self.messages, self.last_user_text, self.error = [], "", ""

    @rx.event(background=True)
    async def rename_conversation(self, form: dict):
        title = str(form.get("title", "")).strip()
        async with self:
            user_id = await current_user_id(self)
            if user_id is None or not self.conversation_id:
                return
            if not title:
                self.error = "A conversation needs a title."
                return
            chatbot_id, conversation_id = self._chatbot_id(), self.conversation_id
        try:
            async with project(user_id, chatbot_id, purpose="chat: rename conversation") as tools:
                await conversations.rename_conversation(tools, conversation_id, title)
        except CHAT_ERRORS as error:
            await self._show_error(error)
            return
        async with self:
            self.conversations = [
                ConversationItem(
                    id=c["id"], title=title[:80] if c["id"] == conversation_id else c["title"]
                )
                for c in self.conversations
            ]
            self.error = ""

    @rx.event(background=True)
    async def delete_conversation(self):
        async with self:
            user_id = await current_user_id(self)
            if user_id is None or not self.conversation_id or self.streaming:
                return
            chatbot_id, conversation_id = self._chatbot_id(), self.conversation_id
        try:
            async with project(user_id, chatbot_id, purpose="chat: delete conversation") as tools:
                await conversations.delete_conversation(tools, conversation_id)
        except CHAT_ERRORS as error:
            await self._show_error(error)
            return
        async with self:
            self.conversations = [c for c in self.conversations if c["id"] != conversation_id]
            self.conversation_id = ""
            self.messages, self.last_user_text = [], ""

    @rx.event(background=True)
    async def send(self, form: dict):
        text = str(form.get("message", "")).strip()
        async with self:
            if self.streaming or not text:
                return None
            if len(text) > MAX_MESSAGE_LENGTH:
                self.error = f"A message can be at most {MAX_MESSAGE_LENGTH:,} characters."
                return None
            self.draft = ""
        return await self._answer(text, new_message=True)

    @rx.event(background=True)
    async def retry(self):
        async with self:
            if not self.can_retry:
                return None
            text = self.last_user_text
        return await self._answer(text, new_message=False)

    @rx.event
    def stop(self):
        task = _running_turns.get(self._token())
        if task is not None:
            task.cancel()

    async def _answer(self, text: str, *, new_message: bool):
        """Stream the answer to `text` (a background task: Send and Retry run it
        themselves rather than chain an event, which would cost a browser round trip)."""
        async with self:
            user_id = await current_user_id(self)
            if user_id is None:
                return login_redirect(self)
            if self.streaming:
                return None
            chatbot_id, token = self._chatbot_id(), self._token()
            conversation_id = self.conversation_id
            self.streaming, self.error = True, ""
            self.streaming_text, self.streaming_tools = "", []
            self.last_user_text = text
            if new_message:
                self.messages.append(
                    MessageItem(
                        id="", role="user", content=text, status="complete", tools=[], action=""
                    )
                )
        _running_turns[token] = asyncio.current_task()
        try:
            await self._stream(user_id, chatbot_id, conversation_id, text, new_message)
        except asyncio.CancelledError:
            async with self:
                self._finish_streaming("stopped")
        except CHAT_ERRORS as error:
            async with self:
                if self.streaming_text or self.streaming_tools:
                    self._finish_streaming("failed")  # what was shown stays on the page
                self.streaming = False
            await self._show_error(error)
        finally:
            _running_turns.pop(token, None)
        return None

    async def _stream(
        self, user_id: int, chatbot_id: str, conversation_id: str, text: str, new_message: bool
    ) -> None:
        chat = await open_chat(
            user_id, chatbot_id, purpose="chat: answer a message", schema_max_age=SCHEMA_MAX_AGE
        )
        try:
            if not conversation_id:
                created = await conversations.create_conversation(chat.tools, text[:60])
                conversation_id = created["id"]
                async with self:
                    self.conversation_id = conversation_id
                    self.conversations = [
                        ConversationItem(id=created["id"], title=created["title"]),
                        *self.conversations,
                    ]
            pending_text: list[str] = []
            last_flush = -FLUSH_SECONDS  # the first text is shown at once
            async for event in run_turn(
                chat, text, conversation_id=conversation_id, save_user_message=new_message
            ):
                if isinstance(event, TextChunk):
                    pending_text.append(event.text)
                    if time.monotonic() - last_flush < FLUSH_SECONDS:
                        continue
                last_flush = time.monotonic()
                async with self:
                    self.streaming_text += "".join(pending_text)
                    pending_text.clear()
                    if isinstance(event, ToolActivity):
                        self.streaming_tools.append(tool_card(activity_summary(event)))
                    elif isinstance(event, ApprovalNeeded):
                        self.streaming_tools.append(
                            tool_card(
                                {
                                    "name": event.name,
                                    "table": event.arguments.get("table", ""),
                                    "outcome": "pending",
                                    "count": None,
                                    "reason": "",
                                }
                            )
                        )
                    elif isinstance(event, TurnEnd):
                        cut_off = CUT_OFF_NOTICE if event.finish_reason == "length" else None
                        self._finish_streaming(event.status, event.error_message or cut_off)
            rows = await conversations.list_messages(chat.tools, conversation_id)
            async with self:
                self.messages = [message_item(row) for row in rows]
        finally:
            await chat.aclose()

    def _finish_streaming(self, status: str, error_message: str | None = None) -> None:
        self.messages.append(
            MessageItem(
                id="",
                role="assistant",
                content=self.streaming_text,
                status=status,
                tools=list(self.streaming_tools),
                action="",
            )
        )
        self.streaming_text, self.streaming_tools = "", []
        self.streaming = False
        if error_message:
            self.error = error_message

    @rx.event(background=True)
    async def decide(self, message_id: str, approve: bool):
        """Approve or reject a pending write: only this click, by the owner, runs it."""
        async with self:
            user_id = await current_user_id(self)
            if user_id is None:
                return login_redirect(self)
            chatbot_id, conversation_id = self._chatbot_id(), self.conversation_id
        try:
            async with project(
                user_id,
                chatbot_id,
                purpose="chat: approve a write" if approve else "chat: reject a write",
            ) as tools:
                await decide_action(tools, conversation_id, message_id, approve=approve)
                rows = await conversations.list_messages(tools, conversation_id)
        except CHAT_ERRORS as error:
            await self._show_error(error)
            return None
        async with self:
            self.messages = [message_item(row) for row in rows]
            self.error = ""
        return None


def _last_user_text(messages: list[MessageItem]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            return message["content"]
    return ""
