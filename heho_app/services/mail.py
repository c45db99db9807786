"""Outgoing email: SMTP when `HEHO_SMTP_URL` is set, else the development outbox.

`smtp://user:pass@host:port` upgrades to TLS with STARTTLS, and refuses to send
(message, links and SMTP password alike) in the clear to a server that does not
offer it unless that server is on this machine; `smtps://` speaks TLS from the
first byte. Without SMTP, each message
is written to `HEHO_OUTBOX_DIR` and announced in the log with its link, which is
how a developer without a mail server signs up. The log never shows a message
sent through SMTP, and no password or session token ever goes into a message.
"""

import functools
import logging
import smtplib
import ssl
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from heho_app.security import LOOPBACK_HOSTS
from heho_app.settings import get_settings

logger = logging.getLogger("heho.mail")
SMTP_TIMEOUT_SECONDS = 15


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    # Shown in the log in outbox mode only: the link the developer must open.
    dev_link: str | None = None


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="heho.local")
    message.set_content(mail.text)
    return message


def send_mail(mail: Mail) -> None:
    settings = get_settings()
    message = build_message(mail, settings.smtp_from)
    if settings.smtp_url:
        _send_smtp(settings.smtp_url, message)
        logger.info("mail '%s' sent through SMTP", mail.subject)
        return
    path = _write_outbox(settings.outbox_dir, message)
    logger.warning(
        "HEHO_SMTP_URL is not set: mail '%s' to %s written to %s%s",
        mail.subject,
        mail.to,
        path,
        f" — link: {mail.dev_link}" if mail.dev_link else "",
    )


_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="heho-mail")
_pending: set[Future] = set()


def send_mail_later(mail: Mail) -> None:
    """Send in the background, so that how long a request takes tells nothing
    about whether a message was sent (e.g. whether an address has an account)."""
    future = _executor.submit(_send_and_log_failure, mail)
    _pending.add(future)
    future.add_done_callback(_pending.discard)


def _send_and_log_failure(mail: Mail) -> None:
    try:
        send_mail(mail)
    except MailError as error:
        logger.error("mail '%s' was not sent: %s", mail.subject, error)
    except Exception as error:
        logger.error("mail '%s' was not sent: %s", mail.subject, type(error).__name__)


def wait_for_pending_mail(timeout: float = 15) -> None:
    """Block until the messages queued so far are handed over (tests, shutdown)."""
    wait_for_futures(list(_pending), timeout=timeout)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The system's TLS defaults and CA bundle, for SMTPS and STARTTLS."""
    return ssl.create_default_context()


def _send_smtp(url: str, message: EmailMessage) -> None:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        raise MailError("HEHO_SMTP_URL must start with smtp:// or smtps://")
    host = parts.hostname or "localhost"
    port = parts.port or (465 if scheme == "smtps" else 25)
    context = tls_context()
    try:
        if scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            client.ehlo()
            if scheme == "smtp" and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif scheme == "smtp" and host not in LOOPBACK_HOSTS:
                raise MailError(
                    f"{host}:{port} does not offer STARTTLS, and mail is not sent across the "
                    "network in the clear: use smtps:// or a server that offers STARTTLS"
                )
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        # The URL may hold a password: name only the host and the kind of failure.
        raise MailError(
            f"could not send mail through {host}:{port} ({type(error).__name__})"
        ) from None


def _write_outbox(directory: Path, message: EmailMessage) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{time.time_ns()}.eml"
    path.write_bytes(bytes(message))
    path.chmod(0o600)
    return path
