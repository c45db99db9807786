"""Accounts in Chromium against the running app, with mail through real SMTP."""

import json
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from heho_app.models import UserSession
from heho_app.security import SESSION_COOKIE
from tests.fixtures.accounts import (
    PASSWORD,
    app_engine,
    browser_like_client,
    create_verified_user,
    http_login,
    live_sessions,
    unique_email,
    user_by_email,
)
from tests.fixtures.app_server import ARTIFACTS
from tests.fixtures.browser import fill_login, open_page
from tests.fixtures.mail import link_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "saffron-trellis-orbit-93"


def at(path: str, query: str = "") -> re.Pattern[str]:
    """A page's address, with or without the static server's trailing slash."""
    suffix = re.escape(f"?{query}") if query else ""
    return re.compile(rf"^http://127\.0\.0\.1:\d+{re.escape(path)}/?{suffix}$")


ACCOUNT_URL = at("/account")
# Every password and token the browser tests used; none may reach the app's log.
SECRETS_SEEN: set[str] = {PASSWORD, NEW_PASSWORD}


def remember_session_cookie(page: Page) -> str:
    cookies = {c["name"]: c for c in page.context.cookies()}
    cookie = cookies[SESSION_COOKIE]
    SECRETS_SEEN.add(cookie["value"])
    return cookie["value"]


def signup_through_the_form(page: Page, running_app, email: str) -> None:
    open_page(page, f"{running_app.url}/signup")
    form = page.locator("form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Repeat the password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(page.locator("#signup-done")).to_contain_text("on its way")


def test_signup_confirm_by_mail_login_and_logout(running_app, page, inbox):
    email = unique_email("ada")
    signup_through_the_form(page, running_app, email)

    message = inbox.wait_for(email, "Confirm your HeHo account")
    link = link_in(message, "/verify")
    assert link.startswith(f"{running_app.url}/verify?token=")
    SECRETS_SEEN.add(link.split("token=")[1])

    # A protected page first: it sends to the login page and back afterwards.
    open_page(page, f"{running_app.url}/account")
    expect(page).to_have_url(at("/login", "next=%2Faccount"))

    open_page(page, link)
    expect(page.locator("#verify-result")).to_contain_text("is confirmed")

    open_page(page, f"{running_app.url}/login?next=%2Faccount")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()

    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    SECRETS_SEEN.add(cookie["value"])
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    assert cookie["value"] not in page.content()

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(at("/login", "logged_out=1"))
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    open_page(page, f"{running_app.url}/account")
    expect(page).to_have_url(at("/login", "next=%2Faccount"))


def test_wrong_password_is_shown_next_to_the_field(running_app, page):
    email = unique_email("wrong")
    create_verified_user(running_app, email)
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, "not-my-password-1")
    expect(page.locator("#password-error")).to_have_text("Wrong email or password.")
    expect(page).to_have_url(at("/login"))
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}


def test_unverified_login_is_refused_with_a_way_to_resend(running_app, page, inbox):
    email = unique_email("unverified")
    signup_through_the_form(page, running_app, email)
    inbox.wait_for(email, "Confirm your HeHo account")
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page.locator("#email-error")).to_contain_text("Confirm your email address first")
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    page.get_by_role("button", name="Send the confirmation link again").click()
    expect(page.get_by_text("a new link is on its way")).to_be_visible()
    second = inbox.wait_for(email, "Confirm your HeHo account", count=2)
    SECRETS_SEEN.add(link_in(second, "/verify").split("token=")[1])

    # The /resend page does the same for someone who lost the mail.
    open_page(page, f"{running_app.url}/resend")
    page.locator("#resend-form").get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("a new link is on its way")).to_be_visible()
    third = inbox.wait_for(email, "Confirm your HeHo account", count=3)
    link = link_in(third, "/verify")
    SECRETS_SEEN.add(link.split("token=")[1])
    open_page(page, link)
    expect(page.locator("#verify-result")).to_contain_text("is confirmed")
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)


def test_reset_through_the_mailed_link_ends_every_session(running_app, page, inbox):
    email = unique_email("reset")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as elsewhere:
        assert http_login(elsewhere, email).status_code == 200
        SECRETS_SEEN.add(elsewhere.cookies[SESSION_COOKIE])
    assert len(live_sessions(running_app, user_id)) == 1

    open_page(page, f"{running_app.url}/forgot")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("a link to choose a new password is on its way")).to_be_visible()

    link = link_in(inbox.wait_for(email, "Choose a new HeHo password"), "/reset")
    SECRETS_SEEN.add(link.split("token=")[1])
    open_page(page, link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.locator("#reset-result")).to_contain_text("every session ended")
    assert live_sessions(running_app, user_id) == []

    # The link works once.
    open_page(page, link)
    expect(page.locator("#reset-result")).to_contain_text("already used")

    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, NEW_PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)


def test_idle_session_is_ended(running_app, page):
    email = unique_email("idle")
    user_id = create_verified_user(running_app, email)
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)
    remember_session_cookie(page)

    # Nobody used the session for longer than the idle timeout (30 minutes).
    with Session(app_engine(running_app.db_url)) as session:
        for row in session.exec(select(UserSession).where(UserSession.user_id == user_id)):
            row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
            session.add(row)
        session.commit()

    open_page(page, f"{running_app.url}/account")
    expect(page).to_have_url(at("/login", "next=%2Faccount"))
    assert live_sessions(running_app, user_id) == []


def test_tampered_cookie_is_refused(running_app, page):
    email = unique_email("tamper")
    create_verified_user(running_app, email)
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)
    token = remember_session_cookie(page)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": forged, "url": running_app.url, "httpOnly": True}]
    )
    open_page(page, f"{running_app.url}/account")
    expect(page).to_have_url(at("/login", "next=%2Faccount"))


def test_account_page_changes_password_exports_and_deletes(running_app, page, tmp_path):
    email = unique_email("account")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as elsewhere:
        assert http_login(elsewhere, email).status_code == 200
        SECRETS_SEEN.add(elsewhere.cookies[SESSION_COOKIE])
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)
    remember_session_cookie(page)
    assert len(live_sessions(running_app, user_id)) == 2

    page.get_by_label("Current password").fill("not-the-password-1")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#current_password-error")).to_have_text(
        "Your current password is not right."
    )
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed. 1 other session ended.")).to_be_visible()
    assert len(live_sessions(running_app, user_id)) == 1

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "account_page.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export my data").click()
    path = tmp_path / "export.json"
    download_info.value.save_as(path)
    exported = json.loads(path.read_text())
    assert exported["account"]["email"] == email
    assert "password_hash" not in exported["account"]
    assert len(exported["tables"]["user_sessions"]) == 2

    page.get_by_label("Your password").fill("not-the-password-1")
    page.get_by_role("button", name="Delete my account forever").click()
    expect(page.locator("#delete_password-error")).to_have_text("This password is not right.")
    assert user_by_email(running_app, email) is not None
    page.get_by_label("Your password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Delete my account forever").click()
    expect(page).to_have_url(at("/login", "deleted=1"))
    expect(
        page.get_by_text("Your account and every row HeHo held about you are deleted.")
    ).to_be_visible()
    assert user_by_email(running_app, email) is None
    assert live_sessions(running_app, user_id) == []


def test_log_out_everywhere(running_app, page):
    email = unique_email("everywhere")
    user_id = create_verified_user(running_app, email)
    with browser_like_client(running_app) as elsewhere:
        assert http_login(elsewhere, email).status_code == 200
        SECRETS_SEEN.add(elsewhere.cookies[SESSION_COOKIE])
    open_page(page, f"{running_app.url}/login")
    fill_login(page, email, PASSWORD)
    expect(page).to_have_url(ACCOUNT_URL)
    remember_session_cookie(page)
    page.get_by_role("button", name="Log out everywhere").click()
    expect(page).to_have_url(at("/login", "logged_out=1"))
    assert live_sessions(running_app, user_id) == []


def test_zz_no_password_or_token_in_the_app_log(running_app):
    """Runs last in this module: the app's whole log so far holds no secret."""
    log = running_app.log_text()
    assert len(SECRETS_SEEN) > 5
    leaked = [secret[:6] + "…" for secret in SECRETS_SEEN if secret in log]
    assert leaked == []
