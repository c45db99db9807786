"""Users and keys written straight into the running app's own database."""

import schemathesis
from sqlalchemy.engine import Engine
from sqlmodel import Session

from heho_app.api.app import create_api
from heho_app.services.api_keys import NewApiKey
from tests.api.conftest import add_key, add_user


def new_key(engine: Engine, *, limit: int | None = None) -> NewApiKey:
    with Session(engine, expire_on_commit=False) as session:
        return add_key(session, add_user(session, verified=True), limit=limit)


def api_schema() -> schemathesis.BaseSchema:
    """The API's spec for schemathesis, taken from `create_api()` (the one the app
    serves at /api/v1/openapi.json) so that cases exist at collection time.

    A generated body over the size limit (the chat bodies allow 500 messages of
    100 000 characters) is rightly refused with the documented 413 before it is parsed.
    """
    schema = schemathesis.openapi.from_dict(create_api().openapi())
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema
