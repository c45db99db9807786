"""Small helpers the states share: the one way a handler calls a service, form
values, times, path segments."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import reflex as rx
from sqlmodel import Session

from heho_app.db import session_scope

P = ParamSpec("P")
R = TypeVar("R")


async def run_service(
    function: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run one service call in its own transaction on a worker thread: the database
    (and bcrypt, a quarter of a second) must not stall every other connection's events."""

    def run() -> R:
        with session_scope() as session:
            return function(session, *args, **kwargs)

    return await asyncio.to_thread(run)


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


def path_part(state: rx.State, index: int) -> str:
    """One segment of the page's path (`/chatbots/<id>/settings` → index 1 is the id)."""
    parts = [p for p in state.router.url.path.split("/") if p]
    return parts[index] if len(parts) > index else ""
