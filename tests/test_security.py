"""Security helpers and mail delivery through a real SMTP server."""

import logging

import pytest

from heho_app import security
from heho_app.services import mail
from heho_app.settings import get_settings
from tests.fixtures.mail import link_in


def test_csrf_token_is_bound_to_the_browser_seed():
    seed = security.new_csrf_seed()
    token = security.csrf_token_for(seed)
    assert security.csrf_token_valid(seed, token)
    assert not security.csrf_token_valid(security.new_csrf_seed(), token)
    assert not security.csrf_token_valid(seed, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not security.csrf_token_valid(None, token)
    assert not security.csrf_token_valid(seed, "")


def test_only_the_apps_own_origin_is_allowed(monkeypatch):
    monkeypatch.setattr(get_settings(), "public_url", "https://heho.example.com/app")
    assert security.origin_allowed("https://heho.example.com")
    assert security.origin_allowed("https://HEHO.example.com")
    assert not security.origin_allowed("http://heho.example.com")
    assert not security.origin_allowed("https://heho.example.com.evil.net")
    assert not security.origin_allowed("null")
    assert not security.origin_allowed(None)


def test_cookie_is_read_from_a_raw_header():
    header = "a=1; heho_session=abc.def.ghi; heho_csrf=xyz"
    assert security.read_cookie(header, "heho_session") == "abc.def.ghi"
    assert security.read_cookie(header, "heho_csrf") == "xyz"
    assert security.read_cookie(header, "missing") is None
    assert security.read_cookie("", "heho_session") is None


def test_email_link_tokens_are_purpose_bound():
    verify = security.make_verification_token(1, "a@example.com")
    with pytest.raises(security.TokenError):
        security.read_reset_token(verify)
    with pytest.raises(security.TokenError):
        security.decode_session_token(verify)


def test_mail_goes_through_real_smtp_and_is_not_logged(smtp_server, monkeypatch, caplog):
    inbox, port = smtp_server
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://127.0.0.1:{port}")
    caplog.set_level(logging.DEBUG)
    mail.send_mail(
        mail.Mail(
            to="grace@example.com",
            subject="Confirm your HeHo account",
            text="Open http://localhost:3000/verify?token=secret-link-token now",
            dev_link="http://localhost:3000/verify?token=secret-link-token",
        )
    )
    message = inbox.wait_for("grace@example.com", "Confirm")
    assert link_in(message, "/verify").endswith("secret-link-token")
    heho_lines = [r.getMessage() for r in caplog.records if r.name.startswith("heho")]
    assert heho_lines
    assert not [line for line in heho_lines if "secret-link-token" in line]


def test_smtp_failure_names_no_password(monkeypatch):
    monkeypatch.setattr(get_settings(), "smtp_url", "smtp://user:hunter2-pass@127.0.0.1:1")
    with pytest.raises(mail.MailError) as failed:
        mail.send_mail(mail.Mail(to="a@example.com", subject="x", text="y"))
    assert "hunter2-pass" not in str(failed.value)
