"""The chat themes and the Radix colour each one is drawn with."""

import reflex as rx

from heho_app.services.chatbot_config import THEME_ACCENTS


def swatch(theme: str, size: str = "1.25rem") -> rx.Component:
    accent = THEME_ACCENTS[theme]
    return rx.box(
        width=size,
        height=size,
        border_radius="999px",
        background=f"linear-gradient(135deg, {rx.color(accent, 7)}, {rx.color(accent, 10)})",
        border=f"1px solid {rx.color(accent, 8)}",
        flex_shrink="0",
    )


def theme_swatch_var(theme: rx.Var[str], size: str = "1rem") -> rx.Component:
    """A swatch for a theme only known in the browser (a var)."""
    return rx.match(
        theme,
        *((name, swatch(name, size)) for name in THEME_ACCENTS),
        swatch("twilight", size),
    )
