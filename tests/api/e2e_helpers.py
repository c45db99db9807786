"""Users and keys written straight into the running app's own database."""

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from heho_app.db import make_engine
from heho_app.services.api_keys import NewApiKey
from tests.api.conftest import add_key, add_user


def new_key(engine: Engine, *, limit: int | None = None) -> NewApiKey:
    with Session(engine, expire_on_commit=False) as session:
        return add_key(session, add_user(session, verified=True), limit=limit)


@pytest.fixture(scope="session")
def app_db(running_app) -> Iterator[Engine]:
    engine = make_engine(running_app.db_url)
    yield engine
    engine.dispose()
