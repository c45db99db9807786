"""Pieces of the confirmation dialogs (delete a chatbot, revoke a key…)."""

import reflex as rx
from reflex.event import EventType


def confirm_buttons(confirm: str, on_confirm: EventType, cancel: str = "Cancel") -> rx.Component:
    """A dangerous action's buttons: a grey way out first, then the red action."""
    return rx.hstack(
        rx.alert_dialog.cancel(rx.button(cancel, variant="soft", color_scheme="gray")),
        rx.alert_dialog.action(rx.button(confirm, color_scheme="red", on_click=on_confirm)),
        justify="end",
        spacing="3",
        margin_top="1rem",
    )
