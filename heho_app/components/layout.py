"""The app shell: a navigation bar and a centred page body that every page uses."""

import reflex as rx

NAV_LINKS = (
    ("Chatbots", "/chatbots"),
    ("Keys", "/keys"),
    ("Audit", "/audit"),
    ("Account", "/account"),
)


def brand() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("bot-message-square", size=24, color=rx.color("accent", 10)),
            rx.text("HeHo", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        href="/",
        underline="none",
        color=rx.color("gray", 12),
    )


def nav_link(label: str, href: str) -> rx.Component:
    return rx.link(label, href=href, size="3", weight="medium", color=rx.color("gray", 11))


def navbar(*right: rx.Component) -> rx.Component:
    return rx.box(
        rx.hstack(
            brand(),
            rx.hstack(*right, spacing="5", align="center"),
            justify="between",
            align="center",
            max_width="72rem",
            margin_x="auto",
            padding_x="1.5rem",
            padding_y="0.9rem",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
        width="100%",
    )


def page_body(*children: rx.Component, **props) -> rx.Component:
    return rx.box(
        *children,
        max_width="72rem",
        margin_x="auto",
        padding_x="1.5rem",
        padding_y="2rem",
        width="100%",
        **props,
    )


def logout_button() -> rx.Component:
    from heho_app.state.auth import AuthState

    return rx.hstack(
        rx.text(AuthState.email, size="2", color=rx.color("gray", 10)),
        rx.button(
            rx.icon("log-out", size=16),
            "Log out",
            variant="soft",
            size="2",
            on_click=AuthState.logout,
        ),
        spacing="3",
        align="center",
    )


def app_shell(*children: rx.Component) -> rx.Component:
    """The frame of the signed-in pages (protect them with AuthState.require_login)."""
    return rx.box(
        navbar(*(nav_link(label, href) for label, href in NAV_LINKS), logout_button()),
        page_body(*children),
        min_height="100vh",
        background=rx.color("gray", 2),
    )


def public_shell(*children: rx.Component) -> rx.Component:
    """The frame of the pages a visitor sees before signing in."""
    return rx.box(
        navbar(
            nav_link("Log in", "/login"),
            rx.link(rx.button("Sign up", size="2"), href="/signup"),
        ),
        page_body(*children),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
