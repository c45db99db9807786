"""/chatbots (the list) and /chatbots/[id]/settings (one chatbot's settings)."""

import reflex as rx

from heho_app.components.dialogs import confirm_buttons
from heho_app.components.forms import field_error, notice, submit_button, text_field
from heho_app.components.layout import app_shell
from heho_app.components.themes import THEME_ACCENTS, swatch, theme_swatch_var
from heho_app.pages.account import section
from heho_app.services.chatbot_config import TONES
from heho_app.services.supabase_link import heho_tables_sql
from heho_app.state.chatbots import ChatbotRow, ChatbotsState, GrantRow, ModelOption
from heho_app.state.chatbots import SettingsState as S

HEHO_TABLES_SQL = heho_tables_sql()
OPERATIONS = ("read", "insert", "update", "delete")


def page_header(title: str, subtitle: str, *right: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.heading(title, size="7", as_="h1"),
            rx.text(subtitle, size="3", color=rx.color("gray", 11)),
            spacing="1",
        ),
        rx.hstack(*right, spacing="3"),
        justify="between",
        align="end",
        width="100%",
        wrap="wrap",
        gap="3",
    )


def loading_block(label: str = "Loading…") -> rx.Component:
    return rx.hstack(
        rx.spinner(size="3"),
        rx.text(label, color=rx.color("gray", 11)),
        spacing="3",
        padding="2rem",
        justify="center",
        width="100%",
    )


# --------------------------------------------------------------------------- the list


def create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("plus", size=16), "New chatbot", size="3", id="new-chatbot")
        ),
        rx.dialog.content(
            rx.dialog.title("New chatbot"),
            rx.dialog.description(
                "Give it a name; you set the model, the connection and the permissions next.",
                size="2",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    text_field(
                        "Name",
                        "name",
                        error=ChatbotsState.create_error,
                        field_id="new-chatbot-name",
                        placeholder="e.g. Orders assistant",
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        rx.button("Create", type="submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="4",
                ),
                on_submit=ChatbotsState.create,
            ),
        ),
        open=ChatbotsState.create_open,
        on_open_change=ChatbotsState.set_create_open,
    )


def delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this chatbot?"),
            rx.alert_dialog.description(
                rx.text(
                    "“",
                    ChatbotsState.delete_name,
                    "” and its settings, permissions and stored Supabase key will be "
                    "deleted. Conversations in your Supabase project are not touched. "
                    "This cannot be undone.",
                ),
                size="2",
            ),
            confirm_buttons("Delete chatbot", ChatbotsState.confirm_delete),
        ),
        open=ChatbotsState.delete_open,
        on_open_change=ChatbotsState.set_delete_open,
    )


def chatbot_card(row: ChatbotRow) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.hstack(
                theme_swatch_var(row["theme"], "2rem"),
                rx.vstack(
                    rx.link(
                        rx.heading(row["name"], size="4", as_="h2"),
                        href=f"/chatbots/{row['id']}/settings",
                        color=rx.color("gray", 12),
                    ),
                    rx.hstack(
                        rx.badge(row["model"], variant="soft", color_scheme="gray"),
                        rx.cond(
                            row["connected"],
                            rx.badge(
                                rx.icon("database", size=12), row["project"], color_scheme="grass"
                            ),
                            rx.cond(
                                row["project"] != "",
                                rx.badge(row["project"], " — key missing", color_scheme="amber"),
                                rx.badge("not connected", color_scheme="amber"),
                            ),
                        ),
                        rx.text(
                            "Last used: ", row["last_used"], size="1", color=rx.color("gray", 10)
                        ),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                spacing="3",
                align="center",
            ),
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("settings", size=14), "Settings", variant="soft", size="2"),
                    href=f"/chatbots/{row['id']}/settings",
                ),
                rx.link(
                    rx.button(rx.icon("message-circle", size=14), "Chat", variant="soft", size="2"),
                    href=f"/chat/{row['id']}",
                ),
                rx.button(
                    rx.icon("copy", size=14),
                    "Duplicate",
                    variant="soft",
                    color_scheme="gray",
                    size="2",
                    on_click=ChatbotsState.duplicate(row["id"]),
                ),
                rx.button(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    variant="soft",
                    color_scheme="red",
                    size="2",
                    on_click=ChatbotsState.ask_delete(row["id"], row["name"]),
                ),
                spacing="2",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            width="100%",
            wrap="wrap",
            gap="3",
        ),
        width="100%",
        class_name="chatbot-row",
    )


def empty_chatbots() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("bot", size=40, color=rx.color("accent", 9)),
            rx.heading("No chatbots yet", size="5", as_="h2"),
            rx.text(
                "Create one, connect it to your Supabase project and choose what it may "
                "read or change.",
                color=rx.color("gray", 11),
                text_align="center",
            ),
            align="center",
            spacing="3",
            padding="2rem",
        ),
        width="100%",
        id="chatbots-empty",
    )


def chatbots_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            page_header(
                "Chatbots",
                "Each one talks to one Supabase project, within its permissions.",
                create_dialog(),
            ),
            notice(ChatbotsState.message, "grass", "circle-check"),
            notice(ChatbotsState.error, "red", "triangle-alert"),
            rx.cond(
                ChatbotsState.loading,
                loading_block(),
                rx.cond(
                    ChatbotsState.rows.length() > 0,
                    rx.vstack(
                        rx.foreach(ChatbotsState.rows, chatbot_card), spacing="3", width="100%"
                    ),
                    empty_chatbots(),
                ),
            ),
            delete_dialog(),
            spacing="5",
            width="100%",
        )
    )


# --------------------------------------------------------------------------- settings


def error_of(name: str) -> rx.Var[str]:
    return S.errors[name].to(str)


def labelled(label: str, field_id: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=field_id),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color=rx.color("gray", 10))),
        spacing="1",
        width="100%",
        align="stretch",
    )


def text_area(label: str, name: str, default: rx.Var[str], hint: str, rows: str) -> rx.Component:
    return rx.vstack(
        labelled(
            label,
            name,
            rx.text_area(
                name=name,
                id=name,
                default_value=default,
                rows=rows,
                width="100%",
                size="3",
                aria_describedby=f"{name}-error",
                color_scheme=rx.cond(error_of(name) != "", "red", "gray"),
            ),
            hint,
        ),
        field_error(error_of(name), name),
        spacing="1",
        width="100%",
    )


def model_row(option: ModelOption) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.vstack(
                rx.text(option["name"], size="2", weight="medium"),
                rx.code(option["id"], size="1", variant="ghost"),
                spacing="0",
            ),
            rx.hstack(
                rx.cond(
                    option["tools"],
                    rx.badge(rx.icon("wrench", size=11), "tools", color_scheme="grass"),
                    rx.badge("no tools", color_scheme="gray"),
                ),
                rx.text(option["context"], size="1", color=rx.color("gray", 11)),
                rx.text(option["price"], size="1", color=rx.color("gray", 11)),
                spacing="2",
                align="center",
                wrap="wrap",
                justify="end",
            ),
            justify="between",
            align="center",
            width="100%",
            gap="2",
        ),
        padding="0.5rem 0.75rem",
        cursor="pointer",
        border_radius="6px",
        background=rx.cond(option["id"] == S.model, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
        on_click=S.pick_model(option["id"]),
        class_name="model-option",
        width="100%",
    )


def model_picker() -> rx.Component:
    return rx.vstack(
        labelled(
            "Model",
            "model",
            rx.input(
                id="model",
                name="model",
                value=S.model,
                on_change=S.set_model,
                placeholder="Search models or type an id, e.g. openai/gpt-4o-mini",
                size="3",
                width="100%",
                auto_complete="off",
                aria_describedby="model-error",
                color_scheme=rx.cond(error_of("model") != "", "red", "gray"),
            ),
        ),
        field_error(error_of("model"), "model"),
        rx.cond(
            S.models_loading,
            rx.hstack(rx.spinner(size="1"), rx.text("Loading OpenRouter's models…", size="1")),
        ),
        rx.cond(
            S.models_error != "",
            rx.callout(
                S.models_error, icon="cloud-off", color_scheme="amber", size="1", id="models-error"
            ),
        ),
        rx.cond(
            S.models.length() > 0,
            rx.vstack(
                rx.hstack(
                    rx.text(
                        rx.cond(S.model_known, "Selected: ", "Typed id: "),
                        rx.code(S.model),
                        size="1",
                    ),
                    rx.text(
                        "Models marked “tools” can use your database.",
                        size="1",
                        color=rx.color("gray", 10),
                    ),
                    justify="between",
                    width="100%",
                    wrap="wrap",
                ),
                rx.scroll_area(
                    rx.vstack(rx.foreach(S.model_matches, model_row), spacing="1", width="100%"),
                    type="auto",
                    scrollbars="vertical",
                    max_height="16rem",
                    border=f"1px solid {rx.color('gray', 5)}",
                    border_radius="8px",
                    padding="0.25rem",
                    id="model-list",
                ),
                spacing="1",
                width="100%",
            ),
        ),
        spacing="1",
        width="100%",
    )


def tone_field() -> rx.Component:
    return rx.vstack(
        labelled(
            "Tone",
            "tone",
            rx.select(
                list(TONES),
                value=S.tone,
                on_change=S.set_tone,
                id="tone",
                size="3",
                width="100%",
            ),
        ),
        field_error(error_of("tone"), "tone"),
        spacing="1",
        width="100%",
    )


def theme_choice(name: str) -> rx.Component:
    return rx.tooltip(
        rx.box(
            rx.hstack(swatch(name), rx.text(name, size="2"), spacing="2", align="center"),
            padding="0.35rem 0.6rem",
            border_radius="999px",
            cursor="pointer",
            border=rx.cond(
                S.theme == name,
                f"2px solid {rx.color(THEME_ACCENTS[name], 9)}",
                f"2px solid {rx.color('gray', 4)}",
            ),
            background=rx.cond(S.theme == name, rx.color(THEME_ACCENTS[name], 3), "transparent"),
            on_click=S.set_theme(name),
            role="radio",
            aria_checked=rx.cond(S.theme == name, "true", "false"),
            id=f"theme-{name}",
        ),
        content=f"The chat is coloured {THEME_ACCENTS[name]}",
    )


def theme_field() -> rx.Component:
    return rx.vstack(
        rx.text("Theme", size="2", weight="medium"),
        rx.hstack(
            *(theme_choice(name) for name in THEME_ACCENTS),
            wrap="wrap",
            spacing="2",
            role="radiogroup",
        ),
        field_error(error_of("theme"), "theme"),
        spacing="1",
        width="100%",
    )


def number_field(label: str, name: str, default: rx.Var[str], hint: str, **props) -> rx.Component:
    return rx.vstack(
        labelled(
            label,
            name,
            rx.input(
                name=name,
                id=name,
                default_value=default,
                type="number",
                size="3",
                width="100%",
                aria_describedby=f"{name}-error",
                color_scheme=rx.cond(error_of(name) != "", "red", "gray"),
                **props,
            ),
            hint,
        ),
        field_error(error_of(name), name),
        spacing="1",
        width="100%",
    )


def switch_field(
    label: str, name: str, checked: rx.Var[bool], on_change, hint: str
) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.switch(checked=checked, on_change=on_change, id=name, name=name),
            rx.el.label(rx.text(label, size="2", weight="medium"), html_for=name),
            spacing="2",
            align="center",
        ),
        rx.text(hint, size="1", color=rx.color("gray", 10)),
        field_error(error_of(name), name),
        spacing="1",
        width="100%",
    )


def settings_section() -> rx.Component:
    return section(
        "Behaviour",
        "What the chatbot is for and how it answers.",
        rx.form(
            rx.vstack(
                text_field(
                    "Name", "name", error=error_of("name"), default_value=S.name, field_id="name"
                ),
                text_area(
                    "Goal",
                    "goal",
                    S.goal,
                    "One or two sentences: what should it help with? (at most 2,000 characters)",
                    "2",
                ),
                text_area(
                    "Description (system prompt)",
                    "description",
                    S.description,
                    "Instructions the model gets before every conversation "
                    "(at most 20,000 characters).",
                    "6",
                ),
                model_picker(),
                rx.grid(
                    tone_field(),
                    number_field(
                        "Temperature",
                        "temperature",
                        S.temperature,
                        "0 = focused, 2 = inventive.",
                        step="0.1",
                    ),
                    number_field(
                        "Row cap",
                        "row_cap",
                        S.row_cap,
                        "Rows one answer may insert, update or delete in all (1 to 1000).",
                        step="1",
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="4",
                    width="100%",
                ),
                theme_field(),
                rx.grid(
                    switch_field(
                        "Memory",
                        "memory_enabled",
                        S.memory_enabled,
                        S.set_memory_enabled,
                        "Lets it remember facts across conversations (kept in your project).",
                    ),
                    switch_field(
                        "Ask me before any write",
                        "approve_writes",
                        S.approve_writes,
                        S.set_approve_writes,
                        "Inserts, updates and deletes wait for your OK in the chat.",
                    ),
                    switch_field(
                        "Log filter values in the audit",
                        "log_filter_values",
                        S.log_filter_values,
                        S.set_log_filter_values,
                        "Off: the audit keeps which columns were filtered, not the values.",
                    ),
                    columns=rx.breakpoints(initial="1", sm="3"),
                    spacing="4",
                    width="100%",
                ),
                notice(error_of("form"), "red", "triangle-alert"),
                notice(S.saved_message, "grass", "circle-check"),
                rx.box(
                    submit_button("Save settings", S.save_loading, width="auto", id="save-settings")
                ),
                spacing="4",
                width="100%",
            ),
            on_submit=S.save,
            width="100%",
            id="settings-form",
        ),
    )


def check_result() -> rx.Component:
    return rx.cond(
        S.check_done,
        rx.vstack(
            rx.callout(
                S.check_message,
                icon=rx.cond(S.check_ok, "circle-check", "triangle-alert"),
                color_scheme=rx.cond(S.check_ok, "grass", "red"),
                size="1",
                width="100%",
                id="check-result",
            ),
            rx.cond(
                S.check_tables.length() > 0,
                rx.hstack(
                    rx.text("Tables:", size="2", weight="medium"),
                    rx.foreach(S.check_tables, lambda t: rx.badge(t, variant="surface")),
                    wrap="wrap",
                    spacing="2",
                    align="center",
                ),
            ),
            rx.cond(
                S.check_missing.length() > 0,
                rx.vstack(
                    rx.text(
                        "HeHo's own tables are missing: ",
                        rx.text.strong(S.check_missing.join(", ")),
                        ". Run this SQL in your project's SQL editor, then test again.",
                        size="2",
                    ),
                    rx.box(
                        rx.code_block(HEHO_TABLES_SQL, language="sql", wrap_long_lines=True),
                        max_height="16rem",
                        overflow="auto",
                        width="100%",
                    ),
                    rx.button(
                        rx.icon("clipboard-copy", size=14),
                        "Copy SQL",
                        variant="soft",
                        size="2",
                        on_click=[rx.set_clipboard(HEHO_TABLES_SQL), rx.toast("SQL copied")],
                        id="copy-sql",
                    ),
                    spacing="2",
                    width="100%",
                    id="missing-heho-tables",
                ),
            ),
            spacing="3",
            width="100%",
        ),
    )


def remove_connection_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                "Remove connection", variant="soft", color_scheme="red", type="button", size="3"
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove the connection?"),
            rx.alert_dialog.description(
                "The project URL is forgotten and the stored key is deleted. The chatbot "
                "cannot reach your data until you connect it again.",
                size="2",
            ),
            confirm_buttons("Remove", S.remove_connection),
        ),
        open=S.remove_open,
        on_open_change=S.set_remove_open,
    )


def connection_section() -> rx.Component:
    conn_error = S.connection_errors
    return section(
        "Connection",
        "Your Supabase project's URL and key (Project Settings → API). The key is stored "
        "encrypted and never shown again; HeHo tests it before saving.",
        rx.form(
            rx.vstack(
                text_field(
                    "Project URL",
                    "supabase_url",
                    error=conn_error["supabase_url"].to(str),
                    default_value=S.supabase_url,
                    placeholder="https://<project>.supabase.co",
                ),
                rx.vstack(
                    rx.el.label(rx.text("Key", size="2", weight="medium"), html_for="supabase_key"),
                    rx.input(
                        name="supabase_key",
                        id="supabase_key",
                        type="password",
                        auto_complete="off",
                        size="3",
                        width="100%",
                        placeholder=rx.cond(
                            S.key_last4 != "",
                            "Saved ••••" + S.key_last4 + " — leave empty to keep it",
                            "anon or service_role key",
                        ),
                        aria_describedby="supabase_key-error",
                        color_scheme=rx.cond(
                            conn_error["supabase_key"].to(str) != "", "red", "gray"
                        ),
                    ),
                    rx.cond(
                        S.key_last4 != "",
                        rx.text(
                            "Saved key: ", rx.code("••••", S.key_last4), size="1", id="saved-key"
                        ),
                    ),
                    field_error(conn_error["supabase_key"].to(str), "supabase_key"),
                    spacing="1",
                    width="100%",
                ),
                notice(conn_error["connection"].to(str), "red", "triangle-alert"),
                notice(S.connection_message, "grass", "circle-check"),
                rx.hstack(
                    rx.button(
                        rx.icon("plug-zap", size=16),
                        "Test and save",
                        type="submit",
                        loading=S.connect_loading,
                        disabled=S.connect_loading | S.test_loading,
                        size="3",
                    ),
                    rx.cond(
                        S.connected,
                        rx.hstack(
                            rx.button(
                                rx.icon("activity", size=16),
                                "Test connection",
                                type="button",
                                variant="soft",
                                size="3",
                                loading=S.test_loading,
                                disabled=S.connect_loading | S.test_loading,
                                on_click=S.test_saved,
                            ),
                            remove_connection_dialog(),
                            spacing="3",
                        ),
                    ),
                    spacing="3",
                    wrap="wrap",
                ),
                check_result(),
                spacing="4",
                width="100%",
            ),
            on_submit=S.connect,
            width="100%",
            id="connection-form",
        ),
    )


def grant_cell(row: GrantRow, operation: str) -> rx.Component:
    return rx.table.cell(
        rx.checkbox(
            checked=row[operation].to(bool),
            on_change=lambda value: S.set_grant(row["table"], operation, value),
            aria_label=f"{operation} " + row["table"],
            **({"color_scheme": "red"} if operation == "delete" else {}),
        ),
        text_align="center",
    )


def grant_row(row: GrantRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.code(row["table"]),
                rx.cond(
                    ~row["found"].to(bool),
                    rx.badge("not in the last check", color_scheme="amber", size="1"),
                ),
                spacing="2",
                align="center",
            )
        ),
        *(grant_cell(row, op) for op in OPERATIONS),
        id="grant-" + row["table"],
    )


def delete_grant_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Allow deleting rows?"),
            rx.alert_dialog.description(
                rx.vstack(
                    rx.callout(
                        rx.text(
                            "The chatbot will be able to delete rows of ",
                            rx.text.strong(S.delete_table),
                            " when a conversation asks for it — up to the row cap per answer. "
                            "Deleted rows cannot be recovered by HeHo.",
                        ),
                        icon="triangle-alert",
                        color_scheme="red",
                    ),
                    rx.text("Turn on “Ask me before any write” to approve each one.", size="2"),
                    spacing="3",
                ),
            ),
            confirm_buttons("Allow delete", S.confirm_delete_grant, cancel="Keep it off"),
        ),
        open=S.delete_open,
        on_open_change=S.set_delete_open,
    )


def grants_section() -> rx.Component:
    return section(
        "Permissions",
        "What the chatbot may do on each table. Reading is on by default; writing is off, "
        "and deleting asks for a confirmation. HeHo enforces this on every call.",
        rx.cond(
            S.grants.length() > 0,
            rx.vstack(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Table"),
                            *(
                                rx.table.column_header_cell(op.capitalize(), text_align="center")
                                for op in OPERATIONS
                            ),
                        )
                    ),
                    rx.table.body(rx.foreach(S.grants, grant_row)),
                    width="100%",
                    variant="surface",
                    id="grants-table",
                ),
                notice(S.grants_error, "red", "triangle-alert"),
                notice(S.grants_message, "grass", "circle-check"),
                rx.button("Save permissions", size="3", on_click=S.save_grants, id="save-grants"),
                spacing="3",
                width="100%",
            ),
            rx.callout(
                "No tables yet: test the connection to discover your project's tables.",
                icon="table",
                color_scheme="gray",
                width="100%",
                id="grants-empty",
            ),
        ),
        delete_grant_dialog(),
    )


def not_found() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("search-x", size=40, color=rx.color("gray", 9)),
            rx.heading("Chatbot not found", size="5", as_="h1"),
            rx.text("This chatbot does not exist, or it is not yours.", color=rx.color("gray", 11)),
            rx.link(rx.button("Back to your chatbots", variant="soft"), href="/chatbots"),
            align="center",
            spacing="3",
            padding="2rem",
        ),
        width="100%",
        id="chatbot-not-found",
    )


def settings_page() -> rx.Component:
    return app_shell(
        rx.match(
            S.status,
            ("missing", not_found()),
            (
                "ready",
                rx.vstack(
                    rx.link(
                        rx.hstack(
                            rx.icon("arrow-left", size=14), rx.text("All chatbots", size="2")
                        ),
                        href="/chatbots",
                    ),
                    page_header(
                        S.name,
                        "Settings, connection and permissions.",
                        rx.link(
                            rx.button(
                                rx.icon("message-circle", size=16), "Open chat", variant="soft"
                            ),
                            href=f"/chat/{S.bot_id}",
                        ),
                    ),
                    settings_section(),
                    connection_section(),
                    grants_section(),
                    spacing="5",
                    width="100%",
                    max_width="56rem",
                ),
            ),
            loading_block("Loading the chatbot…"),
        )
    )
