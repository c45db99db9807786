"""/account: change the password, log out everywhere, export or delete my data."""

import reflex as rx

from heho_app.components.forms import notice, submit_button, text_field
from heho_app.components.layout import app_shell
from heho_app.state.account import AccountState
from heho_app.state.auth import AuthState


def section(title: str, text: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4", as_="h2"),
            rx.text(text, size="2", color=rx.color("gray", 11)),
            *children,
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
        **props,
    )


def password_section() -> rx.Component:
    return section(
        "Password",
        "Changing it logs you out on every other device.",
        notice(AccountState.password_message, "grass", "circle-check"),
        rx.form(
            rx.vstack(
                text_field(
                    "Current password",
                    "current_password",
                    type="password",
                    autocomplete="current-password",
                    error=AccountState.current_error,
                ),
                text_field(
                    "New password",
                    "new_password",
                    type="password",
                    autocomplete="new-password",
                    error=AccountState.new_error,
                    hint="At least 12 characters.",
                ),
                text_field(
                    "Repeat the new password",
                    "confirm",
                    type="password",
                    autocomplete="new-password",
                    error=AccountState.confirm_error,
                    field_id="confirm_password",
                ),
                rx.box(
                    submit_button("Change password", AccountState.password_loading, width="auto"),
                ),
                spacing="3",
                width="100%",
                max_width="26rem",
            ),
            on_submit=AccountState.change_password,
            width="100%",
        ),
    )


def sessions_section() -> rx.Component:
    return section(
        "Sessions",
        "Log out of HeHo on every browser and device, this one included.",
        rx.box(
            rx.button(
                "Log out everywhere",
                variant="outline",
                size="3",
                on_click=AccountState.logout_everywhere,
            )
        ),
    )


def export_section() -> rx.Component:
    return section(
        "Your data",
        "Download everything HeHo keeps about you as JSON: account, sessions, chatbots, "
        "grants, key metadata and logs. Password hashes and encrypted keys are left out.",
        rx.box(
            rx.button(
                rx.icon("download", size=16),
                "Export my data",
                variant="soft",
                size="3",
                on_click=AccountState.export,
            )
        ),
    )


def delete_section() -> rx.Component:
    return section(
        "Delete my account",
        "Removes your account and every row HeHo holds about you — chatbots, grants, "
        "stored keys, API keys, audit and access logs. Your Supabase projects are not "
        "touched. This cannot be undone.",
        rx.form(
            rx.vstack(
                text_field(
                    "Your password",
                    "password",
                    type="password",
                    autocomplete="current-password",
                    error=AccountState.delete_error,
                    field_id="delete_password",
                ),
                rx.box(
                    submit_button(
                        "Delete my account forever",
                        AccountState.delete_loading,
                        color_scheme="red",
                        width="auto",
                    )
                ),
                spacing="3",
                width="100%",
                max_width="26rem",
            ),
            on_submit=AccountState.delete_account,
            width="100%",
        ),
        border=f"1px solid {rx.color('red', 6)}",
    )


def account_page() -> rx.Component:
    return app_shell(
        rx.vstack(
            rx.heading("Account", size="7", as_="h1"),
            rx.text("Signed in as ", rx.text.strong(AuthState.email), size="3"),
            password_section(),
            sessions_section(),
            export_section(),
            delete_section(),
            spacing="5",
            width="100%",
            max_width="48rem",
        )
    )
