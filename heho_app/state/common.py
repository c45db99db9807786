"""Small helpers the settings states share: form values, times, the signed-in user."""

from datetime import UTC, datetime
from typing import Any

import reflex as rx

from heho_app.state.auth import current_user_id


def form_text(form_data: dict[str, Any], name: str) -> str:
    value = form_data.get(name, "")
    return value if isinstance(value, str) else ""


def when(value: datetime | None, never: str = "never") -> str:
    """A time as the pages show it (UTC, to the minute)."""
    if value is None:
        return never
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def user_or_none(state: rx.State) -> int | None:
    """The signed-in user's id, checked against the session now."""
    return current_user_id(state)


def path_part(state: rx.State, index: int) -> str:
    """One segment of the page's path (`/chatbots/<id>/settings` → index 1 is the id)."""
    parts = [p for p in state.router.url.path.split("/") if p]
    return parts[index] if len(parts) > index else ""
