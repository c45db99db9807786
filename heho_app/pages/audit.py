"""/audit: what the chatbots did in your databases, filtered, and its CSV export."""

import reflex as rx

from heho_app.components.layout import app_shell
from heho_app.pages.chatbots import loading_block, page_header
from heho_app.state.audit import ALL, OUTCOMES, AuditRow, AuditState

OUTCOME_COLOURS = {"ok": "grass", "denied": "amber", "failed": "red", "pending": "gray"}


def outcome_badge(outcome: rx.Var[str]) -> rx.Component:
    return rx.match(
        outcome,
        *((name, rx.badge(name, color_scheme=colour)) for name, colour in OUTCOME_COLOURS.items()),
        rx.badge(outcome),
    )


def filter_box(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", weight="medium"), control, spacing="1")


def filters() -> rx.Component:
    return rx.hstack(
        filter_box(
            "Chatbot",
            rx.select.root(
                rx.select.trigger(id="audit-chatbot-filter", min_width="12rem"),
                rx.select.content(
                    rx.select.item("All chatbots", value=ALL),
                    rx.foreach(
                        AuditState.chatbot_choices,
                        lambda c: rx.select.item(c["name"], value=c["id"]),
                    ),
                ),
                value=AuditState.chatbot_filter,
                on_change=AuditState.set_chatbot_filter,
            ),
        ),
        filter_box(
            "Table",
            rx.input(
                placeholder="any table",
                value=AuditState.table_filter,
                on_change=AuditState.set_table_filter,
                id="audit-table-filter",
            ),
        ),
        filter_box(
            "Outcome",
            rx.select.root(
                rx.select.trigger(id="audit-outcome-filter", min_width="8rem"),
                rx.select.content(
                    rx.select.item("Any outcome", value=ALL),
                    *(rx.select.item(o, value=o) for o in OUTCOMES),
                ),
                value=AuditState.outcome_filter,
                on_change=AuditState.set_outcome_filter,
            ),
        ),
        filter_box(
            "Time",
            rx.select.root(
                rx.select.trigger(id="audit-period-filter", min_width="9rem"),
                rx.select.content(
                    rx.select.item("Last hour", value="1h"),
                    rx.select.item("Last 24 hours", value="24h"),
                    rx.select.item("Last 7 days", value="7d"),
                    rx.select.item("Last 30 days", value="30d"),
                    rx.select.item("All time", value=ALL),
                ),
                value=AuditState.period,
                on_change=AuditState.set_period,
            ),
        ),
        rx.button("Clear", variant="ghost", on_click=AuditState.clear_filters),
        rx.spacer(),
        rx.button(
            rx.icon("download", size=16),
            "Export CSV",
            variant="soft",
            on_click=AuditState.export,
            id="audit-export",
        ),
        align="end",
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def event_row(row: AuditRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["when"], white_space="nowrap"),
        rx.table.cell(row["chatbot"]),
        rx.table.cell(rx.code(row["tool"])),
        rx.table.cell(row["table"]),
        rx.table.cell(row["filters"], max_width="16rem", overflow_wrap="anywhere"),
        rx.table.cell(row["rows"]),
        rx.table.cell(outcome_badge(row["outcome"])),
        rx.table.cell(row["duration"], white_space="nowrap"),
        rx.table.cell(row["detail"], max_width="18rem", overflow_wrap="anywhere"),
    )


def events_table() -> rx.Component:
    return rx.cond(
        AuditState.events.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *(
                            rx.table.column_header_cell(title)
                            for title in (
                                "When",
                                "Chatbot",
                                "Tool",
                                "Table",
                                "Filters",
                                "Rows",
                                "Outcome",
                                "Duration",
                                "Detail",
                            )
                        )
                    )
                ),
                rx.table.body(rx.foreach(AuditState.events, event_row)),
                width="100%",
                variant="surface",
                size="1",
                id="audit-events",
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.icon("scroll-text", size=36, color=rx.color("gray", 9)),
                rx.heading("No audit events", size="4", as_="h2"),
                rx.text(
                    "Nothing matches these filters. Every database call a chatbot makes "
                    "is recorded here.",
                    color=rx.color("gray", 11),
                    text_align="center",
                ),
                align="center",
                spacing="2",
                padding="1.5rem",
            ),
            width="100%",
            id="audit-empty",
        ),
    )


def audit_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            page_header(
                "Audit",
                "Every database call of your chatbots: allowed, denied or failed. "
                "The log is append-only and hash-chained.",
            ),
            filters(),
            rx.cond(AuditState.loading, loading_block(), events_table()),
            spacing="5",
            width="100%",
        )
    )
