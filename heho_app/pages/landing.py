"""The landing page: what HeHo does and where to start."""

import reflex as rx

from heho_app.components.layout import public_shell

FEATURES = (
    (
        "database",
        "Your data stays yours",
        "Business rows, conversations and memories stay in your own Supabase project. "
        "HeHo keeps only your account, configuration and logs.",
    ),
    (
        "shield-check",
        "Never beyond what you grant",
        "Per table: read, insert, update, delete. Every call the chatbot makes is checked "
        "in code against your grants, never by the prompt alone.",
    ),
    (
        "scroll-text",
        "Every operation audited",
        "Each read or change lands in a tamper-evident audit log you can filter and export.",
    ),
    (
        "key-round",
        "Keys encrypted at rest",
        "OpenRouter and Supabase keys are sealed with AES-256-GCM and never reach the browser.",
    ),
    (
        "zap",
        "Answers that stream",
        "Talk to your chatbot and watch it read and change rows, token by token.",
    ),
    (
        "plug",
        "A REST API too",
        "Bearer keys, rate limits and an OpenAI-compatible endpoint for your own programs.",
    ),
)


def feature_card(icon: str, title: str, text: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=22, color=rx.color("accent", 10)),
            rx.heading(title, size="4", as_="h3"),
            rx.text(text, size="2", color=rx.color("gray", 11)),
            spacing="2",
        ),
        size="3",
    )


def landing() -> rx.Component:
    return public_shell(
        rx.vstack(
            rx.heading(
                "An AI chatbot on top of your own database, safely.",
                size="9",
                as_="h1",
                text_align="center",
                max_width="48rem",
            ),
            rx.text(
                "HeHo connects a chatbot to your Supabase project and lets it read and change "
                "exactly the tables you allow — nothing more.",
                size="5",
                color=rx.color("gray", 11),
                text_align="center",
                max_width="40rem",
            ),
            rx.hstack(
                rx.link(rx.button("Create your account", size="4"), href="/signup"),
                rx.link(rx.button("Log in", size="4", variant="outline"), href="/login"),
                spacing="4",
            ),
            align="center",
            spacing="6",
            padding_y="4rem",
        ),
        rx.grid(
            *(feature_card(*feature) for feature in FEATURES),
            columns=rx.breakpoints(initial="1", sm="2", lg="3"),
            spacing="4",
        ),
    )
