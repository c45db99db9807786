"""schemathesis against the running app, with a valid key: no 5xx, and every
response (status, content type, headers, body) matches what the spec says.

Not checked: that every schema-valid request is accepted. Some rules are beyond
JSON Schema (a table granted once, no NUL characters, datetimes within range) and
are rightly 422s.

The spec is taken from `create_api()` here (the same one the app serves at
/api/v1/openapi.json, which test_e2e checks), so that cases exist at collection time.
"""

from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.conftest import bearer
from tests.api.e2e_helpers import api_schema, new_key

schema = api_schema()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_spec(case, running_app, app_db):
    # A fresh key per call: POST /keys/rotate retires the key it is called with.
    key = new_key(app_db, limit=100_000)
    case.call_and_validate(
        base_url=running_app.url,
        headers=bearer(key),
        timeout=15,
        excluded_checks=[positive_data_acceptance],
    )
