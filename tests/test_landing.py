import httpx
import pytest
from playwright.sync_api import expect

from tests.fixtures.app_server import wait_for_hydration

pytestmark = pytest.mark.browser


def test_landing_page_tells_what_heho_does_and_links_to_signup(running_app, page):
    page.goto(running_app.url)
    wait_for_hydration(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("your own database")
    expect(page.get_by_text("Never beyond what you grant")).to_be_visible()
    expect(page.get_by_role("link", name="Create your account")).to_have_attribute(
        "href", "/signup"
    )
    expect(page.get_by_role("link", name="Log in").first).to_have_attribute("href", "/login")


def test_health_answers_without_auth(running_app):
    response = httpx.get(f"{running_app.url}/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_migrations_ran_on_start(running_app):
    from sqlalchemy import create_engine, inspect

    tables = set(inspect(create_engine(running_app.db_url)).get_table_names())
    assert {"users", "user_sessions", "chatbots", "credentials", "audit_events"} <= tables


def test_every_response_carries_security_headers(running_app):
    for path in ("/", "/api/v1/health", "/api/v1/openapi.json"):
        headers = httpx.get(f"{running_app.url}{path}").headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "strict-transport-security" not in headers  # plain HTTP here


def test_the_page_runs_under_its_content_security_policy(running_app, page):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(running_app.url)
    wait_for_hydration(page)
    expect(page.get_by_text("Every operation audited")).to_be_visible()
    assert violations == []
