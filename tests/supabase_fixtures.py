"""Pytest fixtures: one local Supabase per test run, sample data reset per test.

`local_supabase` starts the stack once per session and stops it at the end;
`supabase_stack` is the same stack with the sample rows (and HeHo's tables in the
user's database) put back before the test. `heho_db` points HeHo's own database at
a fresh, migrated SQLite file for the whole session; `heho_user`, `make_chatbot` and
`tool_context` build a user, a chatbot with grants, and the gate's `ToolContext`.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from heho_app import db, settings
from heho_app.db import session_scope
from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.models import Chatbot, User
from heho_app.services.operations import ToolContext, open_tool_context
from heho_app.services.permissions import load_policy, save_grants


@pytest.fixture(scope="session")
def local_supabase() -> Iterator[LocalSupabase]:
    stack = LocalSupabase()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def supabase_stack(local_supabase: LocalSupabase) -> LocalSupabase:
    if not local_supabase.postgrest_running:
        local_supabase.start_postgrest()
    local_supabase.reset_sample_data()
    return local_supabase


@pytest.fixture(scope="session")
def heho_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated SQLite file as HeHo's own database (REFLEX_DB_URL) for this run."""
    path: Path = tmp_path_factory.mktemp("heho-db") / "heho.db"
    url = f"sqlite:///{path}"
    previous = os.environ.get("REFLEX_DB_URL")
    os.environ["REFLEX_DB_URL"] = url
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.run_migrations(url)
    try:
        yield url
    finally:
        db.get_engine().dispose()
        if previous is None:
            os.environ.pop("REFLEX_DB_URL", None)
        else:
            os.environ["REFLEX_DB_URL"] = previous
        settings.get_settings.cache_clear()
        db.get_engine.cache_clear()


@pytest.fixture
def heho_user(heho_db: str) -> User:
    """A fresh HeHo user (so a fresh audit chain) for one test."""
    with session_scope() as session:
        user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="x")
        session.add(user)
        session.flush()
        session.refresh(user)
    return user


@pytest.fixture
def make_chatbot(heho_user: User) -> Callable[..., Chatbot]:
    """Create a chatbot of `heho_user` with the given settings and table grants."""

    def make(grants: list[dict] | None = None, **settings: object) -> Chatbot:
        with session_scope() as session:
            chatbot = Chatbot(user_id=heho_user.id, name="test bot", **settings)
            session.add(chatbot)
            session.flush()
            save_grants(session, chatbot.id, grants or [])
            session.refresh(chatbot)
        return chatbot

    return make


@pytest.fixture
async def tool_context(
    supabase_stack: LocalSupabase, heho_user: User, make_chatbot: Callable[..., Chatbot]
) -> AsyncIterator[Callable[..., Awaitable[ToolContext]]]:
    """`await tool_context(grants, key=..., **chatbot settings)`: a gate for one chatbot."""
    opened: list[ToolContext] = []

    async def make(
        grants: list[dict] | None = None, *, key: str | None = None, **settings: object
    ) -> ToolContext:
        chatbot = make_chatbot(grants, **settings)
        with session_scope() as session:
            policy = load_policy(session, chatbot.id)
        ctx = await open_tool_context(
            user_id=heho_user.id,
            chatbot=chatbot,
            supabase_url=supabase_stack.url,
            supabase_key=key or supabase_stack.service_key,
            policy=policy,
            conversation_id="conversation-1",
        )
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        await ctx.aclose()
