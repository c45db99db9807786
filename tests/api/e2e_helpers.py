"""Users and keys written straight into the running app's own database."""

from sqlalchemy.engine import Engine
from sqlmodel import Session

from heho_app.services.api_keys import NewApiKey
from tests.api.conftest import add_key, add_user


def new_key(engine: Engine, *, limit: int | None = None) -> NewApiKey:
    with Session(engine, expire_on_commit=False) as session:
        return add_key(session, add_user(session, verified=True), limit=limit)
