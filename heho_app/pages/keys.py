"""/keys: the OpenRouter key, HeHo API keys and the key access log."""

import reflex as rx

from heho_app.components.forms import field_error, notice
from heho_app.components.layout import app_shell
from heho_app.pages.account import section
from heho_app.pages.chatbots import loading_block, page_header
from heho_app.state.keys import AccessRow, KeysState


def remove_key_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button("Remove key", variant="soft", color_scheme="red", type="button")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove the OpenRouter key?"),
            rx.alert_dialog.description(
                "Your chatbots cannot answer until you add a key again.", size="2"
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Remove", color_scheme="red", on_click=KeysState.remove_openrouter_key
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1rem",
            ),
        ),
        open=KeysState.remove_open,
        on_open_change=KeysState.set_remove_open,
    )


def openrouter_section() -> rx.Component:
    has_key = KeysState.openrouter_last4 != ""
    return section(
        "OpenRouter key",
        "Your chatbots use your own OpenRouter account. HeHo checks the key with OpenRouter, "
        "stores it encrypted and never shows it again.",
        rx.cond(
            has_key,
            rx.hstack(
                rx.icon("key-round", size=16, color=rx.color("grass", 10)),
                rx.text(
                    "Saved key ",
                    rx.code("••••", KeysState.openrouter_last4),
                    " (set ",
                    KeysState.openrouter_updated,
                    ")",
                    size="2",
                ),
                spacing="2",
                align="center",
                id="openrouter-saved",
            ),
            rx.text(
                "No key saved yet.", size="2", color=rx.color("amber", 11), id="openrouter-none"
            ),
        ),
        notice(KeysState.openrouter_message, "grass", "circle-check"),
        rx.form(
            rx.vstack(
                rx.el.label(
                    rx.text(
                        rx.cond(has_key, "Replace with a new key", "API key"),
                        size="2",
                        weight="medium",
                    ),
                    html_for="openrouter_key",
                ),
                rx.input(
                    name="openrouter_key",
                    id="openrouter_key",
                    type="password",
                    auto_complete="off",
                    placeholder="sk-or-v1-…",
                    size="3",
                    width="100%",
                    required=True,
                    aria_describedby="openrouter_key-error",
                    color_scheme=rx.cond(KeysState.openrouter_error != "", "red", "gray"),
                ),
                field_error(KeysState.openrouter_error, "openrouter_key"),
                rx.hstack(
                    rx.button(
                        rx.cond(has_key, "Check and replace", "Check and save"),
                        type="submit",
                        size="3",
                        loading=KeysState.openrouter_loading,
                        disabled=KeysState.openrouter_loading,
                        id="save-openrouter-key",
                    ),
                    rx.cond(has_key, remove_key_dialog()),
                    spacing="3",
                ),
                spacing="2",
                width="100%",
                max_width="32rem",
            ),
            on_submit=KeysState.save_openrouter_key,
            width="100%",
        ),
    )


def access_row(row: AccessRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["when"], white_space="nowrap"),
        rx.table.cell(rx.badge(row["kind"], variant="soft")),
        rx.table.cell(row["chatbot"]),
        rx.table.cell(row["purpose"]),
    )


def access_section() -> rx.Component:
    return section(
        "Key access log",
        "Every time HeHo decrypted one of your stored keys: when, which key, for what.",
        rx.cond(
            KeysState.access.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("When"),
                        rx.table.column_header_cell("Key"),
                        rx.table.column_header_cell("Chatbot"),
                        rx.table.column_header_cell("Purpose"),
                    )
                ),
                rx.table.body(rx.foreach(KeysState.access, access_row)),
                width="100%",
                variant="surface",
                id="key-access-log",
            ),
            rx.text(
                "No key was used yet.", size="2", color=rx.color("gray", 10), id="key-access-empty"
            ),
        ),
    )


def keys_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            page_header("Keys", "Your OpenRouter key, and who used your stored keys when."),
            rx.cond(
                KeysState.loading,
                loading_block(),
                rx.vstack(openrouter_section(), access_section(), spacing="5", width="100%"),
            ),
            rx.text(
                "Supabase keys belong to each chatbot: set them on the chatbot's settings page.",
                size="2",
                color=rx.color("gray", 10),
            ),
            spacing="5",
            width="100%",
            max_width="56rem",
        )
    )
