"""schemathesis with invalid inputs only (its negative mode, more examples than the
positive run in tests/api/test_schemathesis.py): every invalid request is refused with a
4xx in the spec's shape, and a refused request changes nothing the caller owns."""

from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from heho_app.models import ApiKey, Chatbot, TableGrant
from tests.api.conftest import bearer
from tests.api.e2e_helpers import api_schema, new_key
from tests.fixtures.accounts import app_engine

schema = api_schema()
schema.config.generation.update(modes=[GenerationMode.NEGATIVE])


def owned(engine: Engine, user_id: int) -> tuple:
    """Everything of the user's that an API request could change."""
    with Session(engine) as session:
        bots = session.exec(select(Chatbot).where(Chatbot.user_id == user_id)).all()
        grants = session.exec(
            select(TableGrant).where(col(TableGrant.chatbot_id).in_([b.id for b in bots]))
        ).all()
        keys = session.exec(select(ApiKey).where(ApiKey.user_id == user_id)).all()
        return (
            sorted(b.model_dump_json() for b in bots),
            sorted(g.model_dump_json() for g in grants),
            sorted((k.id, k.revoked_at) for k in keys),
        )


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_invalid_requests_are_refused_and_change_nothing(case, running_app, attacks):
    engine = app_engine(running_app.db_url)
    key = new_key(engine, limit=100_000)
    with Session(engine) as session:  # one chatbot, so that ids in paths can hit something
        user_id = session.get(ApiKey, key.info.id).user_id
        session.add(Chatbot(user_id=user_id, name="fuzz target"))
        session.commit()
    before = owned(engine, user_id)
    response = case.call(base_url=running_app.url, headers=bearer(key), timeout=15)
    changed = response.status_code >= 400 and owned(engine, user_id) != before
    try:
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
    except Exception:
        attacks.record("invalid API requests (schemathesis)", got_through=True)
        raise
    attacks.record("invalid API requests (schemathesis)", got_through=changed)
    assert not changed, (case.method, case.path, response.status_code)
