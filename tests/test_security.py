"""Security helpers and mail delivery through a real SMTP server."""

import logging
import socket
import ssl

import pytest
from aiosmtpd.controller import Controller

from heho_app import security
from heho_app.devtools.processes import free_port
from heho_app.services import mail
from heho_app.settings import get_settings
from tests.fixtures.mail import link_in
from tests.fixtures.tls import self_signed


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


def this_machine_address() -> str:
    """An address of this machine that is not loopback (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: routed, never reached
        except OSError:
            pytest.skip("this machine has no address besides loopback")
        return probe.getsockname()[0]


class TlsAwareInbox:
    def __init__(self) -> None:
        self.deliveries: list[tuple[bool, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.deliveries.append((session.ssl is not None, envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def remote_smtp(tmp_path):
    """`remote_smtp(starttls)`: an SMTP server on this machine's non-loopback address."""
    controllers = []

    def start(starttls: bool) -> tuple[TlsAwareInbox, str]:
        host, port, inbox = this_machine_address(), free_port(), TlsAwareInbox()
        options = {}
        if starttls:
            cert_pem, key_pem = self_signed("heho-smtp-test", ip=host)
            (tmp_path / "cert.pem").write_bytes(cert_pem)
            (tmp_path / "key.pem").write_bytes(key_pem)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
            mail.tls_context().load_verify_locations(cadata=cert_pem.decode())
            options = {"tls_context": context}
        controller = Controller(inbox, hostname=host, port=port, **options)
        controller.start()
        controllers.append(controller)
        return inbox, f"{host}:{port}"

    yield start
    for controller in controllers:
        controller.stop()


def test_mail_crosses_the_network_only_encrypted(remote_smtp, monkeypatch):
    secret = "Open http://localhost:3000/reset?token=secret-reset-token"
    plain, plain_address = remote_smtp(starttls=False)
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://user:pw-9@{plain_address}")
    with pytest.raises(mail.MailError) as refused:
        mail.send_mail(mail.Mail(to="a@example.com", subject="Reset", text=secret))
    assert "does not offer STARTTLS" in str(refused.value)
    assert "pw-9" not in str(refused.value)
    assert plain.deliveries == []

    encrypted, tls_address = remote_smtp(starttls=True)
    monkeypatch.setattr(get_settings(), "smtp_url", f"smtp://{tls_address}")
    mail.send_mail(mail.Mail(to="a@example.com", subject="Reset", text=secret))
    ((over_tls, content),) = encrypted.deliveries
    assert over_tls and b"secret-reset-token" in content
