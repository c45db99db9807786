"""Throwaway PostgreSQL databases on an existing server (the machine's, in tests)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

POSTGRES_ADMIN_DSN = os.environ.get(
    "HEHO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def temporary_database(admin_dsn: str = POSTGRES_ADMIN_DSN) -> Iterator[str]:
    """A fresh, empty database; yields its SQLAlchemy URL; dropped afterwards.

    Raises psycopg.OperationalError when the server cannot be reached.
    """
    name = f"heho_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
