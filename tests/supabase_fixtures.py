"""Pytest fixtures: one local Supabase per test run, sample data reset per test.

`local_supabase` starts the stack once per session and stops it at the end;
`supabase_stack` is the same stack with the sample rows (and HeHo's tables in the
user's database) put back before the test. `heho_db` points HeHo's own database at
a fresh, migrated SQLite file for the whole session.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from heho_app.devtools.supabase_stack import LocalSupabase


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
    from heho_app import db, settings

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
