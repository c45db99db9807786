"""/keys: the OpenRouter key, HeHo API keys and the key access log."""

import reflex as rx

from heho_app.components.dialogs import confirm_buttons
from heho_app.components.forms import field_error, notice
from heho_app.components.layout import app_shell
from heho_app.pages.account import section
from heho_app.pages.chatbots import loading_block, page_header
from heho_app.state.keys import NEW_KEY_FIELD, AccessRow, ApiKeyRow, KeysState


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
            confirm_buttons("Remove", KeysState.remove_openrouter_key),
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


COPY_NEW_KEY_JS = f"navigator.clipboard.writeText(document.getElementById('{NEW_KEY_FIELD}').value)"


def new_key_box() -> rx.Component:
    """Always mounted (hidden until a key is made) so that the key can be written
    straight into its field, never through a var."""
    return rx.el.div(
        rx.callout(
            rx.vstack(
                rx.text(
                    "Your new key “",
                    KeysState.new_key_name,
                    "”. Copy it now: HeHo keeps only a hash and cannot show it again.",
                    size="2",
                    weight="medium",
                ),
                rx.hstack(
                    rx.input(
                        id=NEW_KEY_FIELD,
                        read_only=True,
                        size="3",
                        width="100%",
                        font_family="monospace",
                        auto_complete="off",
                    ),
                    rx.button(
                        rx.icon("clipboard-copy", size=16),
                        "Copy",
                        size="3",
                        on_click=[rx.call_script(COPY_NEW_KEY_JS), rx.toast("Key copied")],
                        id="copy-new-key",
                    ),
                    rx.button("Done", size="3", variant="soft", on_click=KeysState.hide_new_key),
                    width="100%",
                    spacing="2",
                ),
                spacing="2",
                width="100%",
            ),
            icon="key-round",
            color_scheme="grass",
            width="100%",
        ),
        # An inline style: Radix's own `display: block` on boxes outranks a class.
        style={"display": rx.cond(KeysState.new_key_name != "", "block", "none")},
        width="100%",
        id="new-key-box",
    )


def revoke_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke this key?"),
            rx.alert_dialog.description(
                rx.text(
                    "“",
                    KeysState.revoke_name,
                    "” stops working at once; programs using it get 401 errors.",
                ),
                size="2",
            ),
            confirm_buttons("Revoke", KeysState.confirm_revoke),
        ),
        open=KeysState.revoke_open,
        on_open_change=KeysState.set_revoke_open,
    )


def api_key_row(row: ApiKeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["name"]),
        rx.table.cell(rx.code("heho_", row["prefix"], "_…")),
        rx.table.cell(row["created"], white_space="nowrap"),
        rx.table.cell(row["last_used"], white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                row["revoked"],
                rx.badge("revoked ", row["revoked_at"], color_scheme="gray"),
                rx.hstack(
                    rx.button(
                        "Rotate",
                        size="1",
                        variant="soft",
                        on_click=KeysState.rotate_api_key(row["id"]),
                    ),
                    rx.button(
                        "Revoke",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=KeysState.ask_revoke(row["id"], row["name"]),
                    ),
                    spacing="2",
                ),
            )
        ),
        class_name="api-key-row",
    )


def api_keys_section() -> rx.Component:
    return section(
        "HeHo API keys",
        "For programs that use HeHo's REST API (/api/v1). A key is shown once when it is "
        "made; rotating makes a new one and stops the old one.",
        new_key_box(),
        notice(KeysState.api_key_message, "grass", "circle-check"),
        notice(KeysState.api_key_error, "red", "triangle-alert"),
        rx.form(
            rx.hstack(
                rx.box(
                    rx.input(
                        name="api_key_name",
                        id="api_key_name",
                        placeholder="Key name, e.g. reporting script",
                        size="3",
                        required=True,
                        max_length=100,
                        aria_label="Key name",
                    ),
                    flex_grow="1",
                ),
                rx.button(rx.icon("plus", size=16), "Create key", type="submit", size="3"),
                spacing="2",
                width="100%",
                max_width="32rem",
            ),
            on_submit=KeysState.create_api_key,
            width="100%",
        ),
        rx.cond(
            KeysState.api_key_rows.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *(
                            rx.table.column_header_cell(title)
                            for title in ("Name", "Prefix", "Created", "Last used", "")
                        )
                    )
                ),
                rx.table.body(rx.foreach(KeysState.api_key_rows, api_key_row)),
                width="100%",
                variant="surface",
                id="api-keys",
            ),
            rx.text("No API keys yet.", size="2", color=rx.color("gray", 10)),
        ),
        revoke_dialog(),
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
            page_header(
                "Keys", "Your OpenRouter key, HeHo API keys, and who used your stored keys when."
            ),
            rx.cond(
                KeysState.loading,
                loading_block(),
                rx.vstack(
                    openrouter_section(),
                    api_keys_section(),
                    access_section(),
                    spacing="5",
                    width="100%",
                ),
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
