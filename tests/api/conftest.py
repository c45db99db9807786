"""REST API fixtures: users and keys in HeHo's database, and the API in-process."""

import itertools
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from heho_app.api.access_log import AccessLogWriter
from heho_app.api.app import create_api
from heho_app.api.ratelimit import RateLimiter
from heho_app.db import make_engine
from heho_app.devtools import seed
from heho_app.models import User
from heho_app.services.api_keys import NewApiKey, create_api_key

CLIENT_ADDRESS = "203.0.113.7"
_emails = itertools.count()

MakeUser = Callable[..., User]
MakeKey = Callable[..., NewApiKey]


def add_user(session: Session, *, verified: bool = False) -> User:
    user = seed.add_user(session, email=f"user{next(_emails)}@example.test", verified=verified)
    session.commit()
    return user


def add_key(
    session: Session, user: User, *, limit: int | None = None, name: str = "test"
) -> NewApiKey:
    assert user.id is not None
    new = create_api_key(session, user_id=user.id, name=name, rate_limit_per_minute=limit)
    session.commit()
    return new


def bearer(key: NewApiKey | str) -> dict[str, str]:
    plaintext = key if isinstance(key, str) else key.plaintext
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def make_user(db) -> MakeUser:
    return lambda **kwargs: add_user(db, **kwargs)


@pytest.fixture
def make_key(db) -> MakeKey:
    return lambda user, **kwargs: add_key(db, user, **kwargs)


@pytest.fixture(scope="session")
def _access_log_writer() -> AccessLogWriter:
    return AccessLogWriter()


@pytest.fixture
def access_log(_access_log_writer) -> Iterator[AccessLogWriter]:
    """One writer (one thread) for the run, drained before the next test cleans the DB."""
    yield _access_log_writer
    assert _access_log_writer.flush(), "the access log did not drain"


@pytest.fixture
def api(db, access_log) -> FastAPI:
    """A fresh API (own rate limiter, own access log writer) on the clean test database."""
    return create_api(limiter=RateLimiter(), access_log=access_log)


@pytest.fixture
async def client(api) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api, client=(CLIENT_ADDRESS, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://heho.test") as http:
        yield http


@pytest.fixture
def user(make_user) -> User:
    return make_user(verified=True)


@pytest.fixture
def key(make_key, user) -> NewApiKey:
    return make_key(user)


@pytest.fixture(scope="session")
def app_db(running_app) -> Iterator[Engine]:
    """The running app's own database (end-to-end tests put users and keys there)."""
    engine = make_engine(running_app.db_url)
    yield engine
    engine.dispose()
