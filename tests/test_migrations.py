from sqlalchemy import create_engine, inspect

from heho_app.db import downgrade, run_migrations
from tests.conftest import TEST_ROOT

HEHO_TABLES = {
    "users",
    "user_sessions",
    "chatbots",
    "table_grants",
    "credentials",
    "api_keys",
    "audit_events",
    "access_log",
    "key_access_log",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _up_down_up(url: str) -> None:
    run_migrations(url)
    assert _tables(url) == HEHO_TABLES
    downgrade(url, "base")
    assert _tables(url) == set()
    run_migrations(url)
    assert _tables(url) == HEHO_TABLES


def test_upgrade_downgrade_upgrade_on_sqlite():
    _up_down_up(f"sqlite:///{TEST_ROOT / 'migrations.db'}")


def test_upgrade_downgrade_upgrade_on_postgresql(postgres_url):
    _up_down_up(postgres_url)
