"""/chat/[chatbot_id]: talk to a chatbot and watch it work with your data."""

import reflex as rx

from heho_app.components.dialogs import confirm_buttons
from heho_app.components.layout import app_shell
from heho_app.state.chat import ChatState, MessageItem, ToolCard

OUTCOME_COLORS = {"ok": "grass", "denied": "red", "failed": "orange", "pending": "amber"}
STATUS_NOTES = {
    "failed": "The answer failed.",
    "interrupted": "The connection dropped; the answer is incomplete.",
    "stopped": "Stopped.",
}


def tool_card(card: ToolCard) -> rx.Component:
    return rx.hstack(
        rx.icon("database", size=14, color=rx.color("gray", 10)),
        rx.text(card["name"], weight="medium", size="1", font_family="monospace"),
        rx.cond(card["table"] != "", rx.code(card["table"], size="1")),
        rx.badge(
            card["label"],
            color_scheme=rx.match(
                card["outcome"],
                *OUTCOME_COLORS.items(),
                "gray",
            ),
            size="1",
        ),
        rx.cond(card["count"] != "", rx.text(card["count"], size="1", color=rx.color("gray", 11))),
        rx.cond(
            card["reason"] != "",
            rx.text(card["reason"], size="1", color=rx.color("gray", 11), trim="both"),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        padding="0.35rem 0.6rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        background=rx.color("gray", 2),
        class_name="tool-card",
        data_outcome=card["outcome"],
    )


def markdown(content) -> rx.Component:
    """Model output as Markdown; raw HTML in it is shown as text, never run."""
    return rx.markdown(content, use_raw=False, class_name="chat-markdown")


def status_note(status) -> rx.Component:
    return rx.cond(
        (status == "failed") | (status == "interrupted") | (status == "stopped"),
        rx.text(
            rx.match(status, *STATUS_NOTES.items(), ""),
            size="1",
            color=rx.color("orange", 11),
            class_name="message-status",
        ),
    )


def user_bubble(message: MessageItem) -> rx.Component:
    return rx.flex(
        rx.box(
            rx.text(message["content"], white_space="pre-wrap"),
            background=rx.color("accent", 4),
            padding="0.6rem 0.9rem",
            border_radius="var(--radius-4)",
            max_width="75%",
        ),
        justify="end",
        width="100%",
        class_name="message",
        data_role="user",
    )


def assistant_bubble(message: MessageItem) -> rx.Component:
    return rx.vstack(
        rx.foreach(message["tools"], tool_card),
        rx.cond(message["content"] != "", rx.box(markdown(message["content"]), width="100%")),
        status_note(message["status"]),
        align="start",
        spacing="2",
        width="100%",
        class_name="message",
        data_role="assistant",
        data_status=message["status"],
    )


def action_card(message: MessageItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("shield-alert", size=16, color=rx.color("amber", 10)),
                rx.text("A change waits for your approval", weight="medium", size="2"),
                align="center",
            ),
            rx.foreach(message["tools"], tool_card),
            rx.code_block(message["action"], language="json", width="100%"),
            rx.cond(
                message["status"] == "pending",
                rx.hstack(
                    rx.button(
                        rx.icon("check", size=14),
                        "Approve",
                        on_click=ChatState.decide(message["id"], True),
                        color_scheme="grass",
                        size="2",
                    ),
                    rx.button(
                        rx.icon("x", size=14),
                        "Reject",
                        on_click=ChatState.decide(message["id"], False),
                        color_scheme="red",
                        variant="soft",
                        size="2",
                    ),
                ),
                rx.badge(message["status"], size="2"),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="action-card",
        data_status=message["status"],
    )


def message_view(message: MessageItem) -> rx.Component:
    return rx.match(
        message["role"],
        ("user", user_bubble(message)),
        ("action", action_card(message)),
        assistant_bubble(message),
    )


def streaming_view() -> rx.Component:
    return rx.cond(
        ChatState.streaming,
        rx.vstack(
            rx.foreach(ChatState.streaming_tools, tool_card),
            rx.box(
                markdown(ChatState.streaming_text + " ▍"),
                id="streaming-answer",
                width="100%",
            ),
            align="start",
            spacing="2",
            width="100%",
        ),
    )


def conversation_link(conversation) -> rx.Component:
    return rx.button(
        rx.text(conversation["title"], trim="both", truncate=True),
        on_click=ChatState.open_conversation(conversation["id"]),
        variant=rx.cond(conversation["id"] == ChatState.conversation_id, "soft", "ghost"),
        justify="start",
        width="100%",
        class_name="conversation-link",
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.button(
            rx.icon("plus", size=14),
            "New conversation",
            on_click=ChatState.new_conversation,
            width="100%",
            disabled=ChatState.streaming,
        ),
        rx.cond(
            ChatState.conversations.length() > 0,
            rx.vstack(
                rx.foreach(ChatState.conversations, conversation_link), spacing="1", width="100%"
            ),
            rx.text("No conversations yet.", size="2", color=rx.color("gray", 10)),
        ),
        spacing="3",
        width="100%",
        id="conversations",
    )


def rename_popover() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.icon_button(rx.icon("pencil", size=14), variant="ghost", aria_label="Rename")
        ),
        rx.popover.content(
            rx.form(
                rx.hstack(
                    rx.input(name="title", placeholder="New title", aria_label="New title"),
                    rx.popover.close(rx.button("Rename", type="submit")),
                ),
                on_submit=ChatState.rename_conversation,
                reset_on_submit=True,
            ),
        ),
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                variant="ghost",
                color_scheme="red",
                aria_label="Delete conversation",
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this conversation?"),
            rx.alert_dialog.description(
                "Its messages are removed from your Supabase project. This cannot be undone."
            ),
            confirm_buttons("Delete", ChatState.delete_conversation),
        ),
    )


def header() -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.icon("bot", color=rx.color("accent", 10)),
            rx.heading(ChatState.chatbot_name, size="5", as_="h1"),
            align="center",
        ),
        rx.cond(
            ChatState.conversation_id != "",
            rx.hstack(rename_popover(), delete_dialog(), spacing="2"),
        ),
        justify="between",
        align="center",
        width="100%",
    )


def composer() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.text_area(
                name="message",
                id="chat-input",
                placeholder="Ask about your data…",
                enter_key_submit=True,
                auto_height=True,
                rows="2",
                width="100%",
                aria_label="Message",
            ),
            rx.cond(
                ChatState.streaming,
                rx.button(
                    rx.icon("square", size=14),
                    "Stop",
                    on_click=ChatState.stop,
                    type="button",
                    color_scheme="red",
                    variant="soft",
                ),
                rx.button(rx.icon("send", size=14), "Send", type="submit"),
            ),
            align="end",
            width="100%",
        ),
        on_submit=ChatState.send,
        reset_on_submit=True,
        width="100%",
    )


def chat_panel() -> rx.Component:
    return rx.vstack(
        header(),
        rx.cond(
            ChatState.error != "",
            rx.callout(
                ChatState.error,
                icon="triangle-alert",
                color_scheme="red",
                width="100%",
                id="chat-error",
            ),
        ),
        rx.auto_scroll(
            rx.cond(
                ChatState.loading,
                rx.center(rx.spinner(size="3"), padding="2rem"),
                rx.cond(
                    (ChatState.messages.length() == 0) & ~ChatState.streaming,
                    rx.center(
                        rx.text("Ask a question to start.", color=rx.color("gray", 10)),
                        padding="3rem",
                    ),
                ),
            ),
            rx.vstack(
                rx.foreach(ChatState.messages, message_view),
                streaming_view(),
                spacing="4",
                width="100%",
            ),
            id="messages",
            width="100%",
            flex="1",
            overflow_y="auto",
            padding="1rem",
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="var(--radius-4)",
            background=rx.color("gray", 1),
            min_height="50vh",
            max_height="65vh",
        ),
        rx.cond(
            ChatState.can_retry,
            rx.button(
                rx.icon("rotate-ccw", size=14), "Retry", on_click=ChatState.retry, variant="soft"
            ),
        ),
        composer(),
        spacing="3",
        width="100%",
    )


def chat_page() -> rx.Component:
    return app_shell(
        rx.theme(
            rx.grid(
                sidebar(),
                chat_panel(),
                columns=rx.breakpoints(initial="1fr", md="16rem 1fr"),
                spacing="5",
                width="100%",
            ),
            accent_color=ChatState.accent,
            has_background=False,
        )
    )
