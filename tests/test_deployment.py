"""docs/deploy.md, exercised: nginx from deploy/nginx.conf.template in front of the
production build with two workers, on PostgreSQL and Redis (tests/fixtures/deployment.py).

HTTP only; the browser half is tests/test_deployment_browser.py.
"""

import asyncio
from collections import Counter

import httpx
import psycopg
from sqlalchemy.engine import make_url
from sqlmodel import Session

from heho_app.devtools.databases import POSTGRES_ADMIN_DSN
from tests.api.conftest import add_key, add_user, bearer
from tests.fixtures.accounts import app_engine


def new_key(deployment, limit: int) -> str:
    with Session(app_engine(deployment.db_url), expire_on_commit=False) as session:
        return add_key(session, add_user(session, verified=True), limit=limit).plaintext


def test_pages_and_the_api_come_through_nginx_with_the_security_headers(deployment):
    for path in ("/", "/login/", "/api/v1/health", "/api/v1/docs"):
        response = httpx.get(deployment.url + path)
        assert response.status_code == 200, path
        assert response.headers["server"].startswith("nginx")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        # Plain http on loopback: no HSTS (under https it is sent; see test_security.py).
        assert "strict-transport-security" not in response.headers


def test_a_redirect_keeps_the_public_address(deployment):
    """nginx passes Host with its port: the app's redirects point back at nginx."""
    response = httpx.get(deployment.url + "/login")
    assert response.status_code == 307
    assert response.headers["location"] == f"{deployment.url}/login/"


def test_a_server_error_shows_no_stack_trace(deployment):
    """PostgreSQL refuses the app's connections for a moment: 500s, generic and short."""
    key = new_key(deployment, limit=1000)
    name = make_url(deployment.db_url).database
    with (
        httpx.Client(base_url=deployment.url, headers={"Origin": deployment.url}) as browser_like,
        psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin,
    ):
        csrf = browser_like.get("/auth/csrf").json()["csrf_token"]
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            api = httpx.post(deployment.url + "/api/v1/verify-user", headers=bearer(key))
            login = browser_like.post(
                "/auth/login",
                json={"email": "a@example.com", "password": "x" * 12},
                headers={"X-CSRF-Token": csrf},
            )
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert api.status_code == 500
    assert api.json() == {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side; the error was logged.",
        }
    }
    assert login.status_code == 500
    for response in (api, login):
        assert "Traceback" not in response.text
        assert "psycopg" not in response.text and 'File "' not in response.text
    # and the app is back once the database is
    ok = httpx.post(deployment.url + "/api/v1/verify-user", headers=bearer(key))
    assert ok.status_code == 200


async def test_the_rate_limit_is_shared_by_the_workers(deployment):
    """60 per minute lets 60 through in total, over many connections to both workers."""
    key = new_key(deployment, limit=60)

    async def one_request() -> int:
        # A new connection each time: nginx hands them to whichever worker accepts.
        async with httpx.AsyncClient(base_url=deployment.url) as client:
            response = await client.post("/api/v1/verify-user", headers=bearer(key))
            return response.status_code

    gate = asyncio.Semaphore(30)

    async def limited() -> int:
        async with gate:
            return await one_request()

    statuses = Counter(await asyncio.gather(*(limited() for _ in range(90))))

    assert statuses == {200: 60, 429: 30}
    spread = deployment.connections_per_worker()
    assert len(spread) == 2 and all(spread.values()), spread
