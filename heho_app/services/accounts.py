"""Accounts: signup, email verification, login, sessions, password change and
reset, deletion and export.

Plain Python on a SQLModel `Session`; the caller owns the transaction
(`heho_app.db.session_scope()`). No Reflex here. Messages in `AccountError` are
meant for the person at the keyboard: they never contain a password, a token or
whether some other address has an account.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, delete, select, update
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as select_model

from heho_app import security
from heho_app.models import User, UserSession, utcnow
from heho_app.services.mail import Mail, send_mail_later
from heho_app.services.ratelimit import Limiter, RateLimited, get_limiter
from heho_app.settings import get_settings

__all__ = [
    "AccountError",
    "RateLimited",
    "SignedIn",
    "change_password",
    "delete_account",
    "export_account",
    "login",
    "logout",
    "logout_everywhere",
    "request_password_reset",
    "resend_verification",
    "reset_password",
    "signup",
    "validate_session",
    "verify_email",
]

logger = logging.getLogger("heho.accounts")

MIN_PASSWORD_LENGTH = 12
TOUCH_INTERVAL = timedelta(seconds=15)
# Columns never exported: they hold hashes or ciphertexts of secrets.
SECRET_COLUMNS = frozenset({"password_hash", "key_hash", "ciphertext"})

SIGNUP_ANSWER = (
    "Thanks! If this address can be used, a message to confirm it is on its way. "
    "Open the link in it within 24 hours."
)
RESEND_ANSWER = "If this address has an account waiting for confirmation, a new link is on its way."
RESET_ANSWER = (
    "If this address has an account, a link to choose a new password is on its way. "
    "It works once, for one hour."
)


class AccountError(Exception):
    """A refusal to show the user, optionally next to one form field."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- input rules ------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """Validated and normalised (lower-cased) address; AccountError when invalid."""
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError:
        raise AccountError(
            "Enter a valid email address, like name@example.com.", field="email", code="email"
        ) from None
    return result.normalized.lower()


@lru_cache
def common_passwords() -> frozenset[str]:
    text = (
        resources.files("heho_app")
        .joinpath("data/common-passwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """At least 12 characters, at most 72 bytes (bcrypt's limit), not a common one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Use at least {MIN_PASSWORD_LENGTH} characters.", field="password", code="short"
        )
    if security.password_too_long(password):
        raise AccountError(
            "Use at most 72 bytes (about 72 letters, fewer with accents or emoji): "
            "longer passwords cannot be checked in full.",
            field="password",
            code="too_long",
        )
    lowered = password.lower()
    stripped = lowered.rstrip("0123456789!@#$%^&*()-_=+.,?~ ")
    local_part = (email or "").split("@")[0].lower()
    if (
        lowered in common_passwords()
        or stripped in common_passwords()
        or len(set(lowered)) <= 2
        or (len(local_part) >= 4 and lowered.startswith(local_part))
    ):
        raise AccountError(
            "This password is too common or too easy to guess. Choose another one.",
            field="password",
            code="common",
        )


def _limit(limiter: Limiter | None, action: str, account: str, client_address: str | None) -> None:
    settings = get_settings()
    limiter = limiter or get_limiter()
    limiter.hit(
        [
            (getattr(settings, f"{action}_limit_account"), f"{action}:account", account.lower()),
            (
                getattr(settings, f"{action}_limit_address"),
                f"{action}:address",
                client_address or "",
            ),
        ]
    )


def _user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select_model(User).where(User.email == email)).first()


def _link(path: str, token: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}{path}?token={token}"


# --- signup and verification ------------------------------------------------------


def _send_verification(user: User) -> None:
    assert user.id is not None
    link = _link("/verify", security.make_verification_token(user.id, user.email))
    send_mail_later(
        Mail(
            to=user.email,
            subject="Confirm your HeHo account",
            text=(
                "Welcome to HeHo!\n\n"
                "Open this link within 24 hours to confirm your email address:\n\n"
                f"{link}\n\n"
                "If you did not sign up, ignore this message: nothing happens without it.\n"
            ),
            dev_link=link,
        )
    )


def signup(
    session: Session,
    email: str,
    password: str,
    *,
    client_address: str | None = None,
    limiter: Limiter | None = None,
) -> str:
    """Create an unverified account and mail its confirmation link.

    The answer is the same whether or not the address is already registered; the
    owner of an existing address gets a note instead of a second account.
    """
    address = normalize_email(email)
    check_password_policy(password, email=address)
    _limit(limiter, "signup", address, client_address)
    existing = _user_by_email(session, address)
    if existing is not None:
        security.burn_password_check(password)
        if existing.email_verified_at is None:
            _send_verification(existing)
        else:
            send_mail_later(
                Mail(
                    to=existing.email,
                    subject="Someone tried to sign up to HeHo with your address",
                    text=(
                        "Someone (perhaps you) tried to create a HeHo account with this "
                        "address, which already has one. If it was you, log in — or choose "
                        f"a new password at {get_settings().public_url.rstrip('/')}/forgot.\n"
                        "If it was not you, you can ignore this message.\n"
                    ),
                )
            )
        return SIGNUP_ANSWER
    user = User(email=address, password_hash=security.hash_password(password))
    session.add(user)
    session.flush()
    _send_verification(user)
    logger.info("account %s created, waiting for email confirmation", user.id)
    return SIGNUP_ANSWER


def verify_email(session: Session, token: str) -> User:
    try:
        user_id, email = security.read_verification_token(token)
    except security.TokenError:
        raise AccountError(
            "This confirmation link is invalid or has expired. Ask for a new one.",
            code="bad_link",
        ) from None
    user = session.get(User, user_id)
    if user is None or user.email != email:
        raise AccountError(
            "This confirmation link is invalid or has expired. Ask for a new one.",
            code="bad_link",
        )
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        session.add(user)
        logger.info("account %s confirmed its email", user.id)
    return user


def resend_verification(
    session: Session,
    email: str,
    *,
    client_address: str | None = None,
    limiter: Limiter | None = None,
) -> str:
    address = normalize_email(email)
    _limit(limiter, "resend", address, client_address)
    user = _user_by_email(session, address)
    if user is not None and user.email_verified_at is None:
        _send_verification(user)
    return RESEND_ANSWER


# --- login and sessions ----------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    token: str
    user_id: int
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in on a request; holds no secret."""

    user_id: int
    email: str
    session_id: str


def login(
    session: Session,
    email: str,
    password: str,
    *,
    client_address: str | None = None,
    user_agent: str = "",
    limiter: Limiter | None = None,
) -> LoginResult:
    """Check the password, upgrade a weak hash, open a session and sign its JWT."""
    wrong = AccountError("Wrong email or password.", field="password", code="invalid_credentials")
    try:
        address = normalize_email(email)
    except AccountError:
        _limit(limiter, "login", (email or "").strip(), client_address)
        security.burn_password_check(password)
        raise wrong from None
    _limit(limiter, "login", address, client_address)
    user = _user_by_email(session, address)
    if user is None or security.password_too_long(password):
        # As slow as a real check, so that timing tells nothing about the address.
        security.burn_password_check(password)
        raise wrong
    matches, new_hash = security.verify_password(password, user.password_hash)
    if not matches:
        raise wrong
    if new_hash:
        user.password_hash = new_hash
        session.add(user)
    if user.email_verified_at is None:
        raise AccountError(
            "Confirm your email address first: open the link we sent you, or ask for a new one.",
            field="email",
            code="email_not_verified",
        )
    settings = get_settings()
    now = utcnow()
    _purge_ended_sessions(session, user.id)
    row = UserSession(
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_days),
        user_agent=(user_agent or "")[:512],
        client_address=(client_address or "")[:64],
    )
    session.add(row)
    session.flush()
    assert user.id is not None
    token = security.encode_session_token(
        user_id=user.id, session_id=row.id, expires_at=row.expires_at
    )
    logger.info("account %s logged in (session %s…)", user.id, row.id[:6])
    return LoginResult(token=token, user_id=user.id, session_id=row.id, expires_at=row.expires_at)


def idle_timeout() -> timedelta:
    return timedelta(minutes=get_settings().idle_timeout_minutes)


def validate_session(
    session: Session, token: str | None, *, touch: bool = True, now: datetime | None = None
) -> SignedIn | None:
    """The signed-in user for a session token, or None.

    Refused: a bad signature or shape, an expired JWT, a session row that is
    missing, revoked, past its expiry or idle for longer than the idle timeout
    (which also revokes it), or an account whose email is not confirmed.
    """
    if not token:
        return None
    try:
        claims = security.decode_session_token(token)
    except security.TokenError:
        return None
    now = now or utcnow()
    row = session.get(UserSession, claims.session_id)
    if row is None or row.user_id != claims.user_id or row.revoked_at is not None:
        return None
    if _utc(row.expires_at) <= now:
        return None
    if now - _utc(row.last_seen_at) > idle_timeout():
        row.revoked_at = now
        session.add(row)
        logger.info("session %s… of account %s ended after idling", row.id[:6], row.user_id)
        return None
    user = session.get(User, row.user_id)
    if user is None or user.email_verified_at is None:
        return None
    if touch and now - _utc(row.last_seen_at) >= TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
    assert user.id is not None
    return SignedIn(user_id=user.id, email=user.email, session_id=row.id)


def _revoke(session: Session, user_id: int, *, except_session: str | None = None) -> int:
    statement = (
        update(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    if except_session:
        statement = statement.where(col(UserSession.id) != except_session)
    return session.execute(statement).rowcount or 0  # type: ignore[attr-defined]


def _purge_ended_sessions(session: Session, user_id: int | None) -> None:
    """Forget the account's sessions that can never be used again (and their
    addresses and user agents)."""
    session.execute(
        delete(UserSession).where(
            col(UserSession.user_id) == user_id,
            (col(UserSession.revoked_at).is_not(None)) | (col(UserSession.expires_at) <= utcnow()),
        )
    )


def logout(session: Session, token: str | None) -> None:
    """End the session a token names (whether or not it is still valid)."""
    if not token:
        return
    try:
        claims = security.decode_session_token(token)
    except security.TokenError:
        return
    row = session.get(UserSession, claims.session_id)
    if row is not None and row.user_id == claims.user_id and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def logout_everywhere(session: Session, user_id: int) -> int:
    """End every session of the account, this one included; how many ended."""
    ended = _revoke(session, user_id)
    logger.info("account %s logged out everywhere (%s sessions)", user_id, ended)
    return ended


# --- passwords ------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    user.password_hash = security.hash_password(password)
    user.password_changed_at = utcnow()


def change_password(
    session: Session,
    user_id: int,
    current_password: str,
    new_password: str,
    *,
    keep_session_id: str | None = None,
) -> int:
    """Change the password and end every other session; how many ended."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("Your session has ended. Log in again.", code="signed_out")
    matches, _ = security.verify_password(current_password, user.password_hash)
    if not matches:
        raise AccountError(
            "Your current password is not right.", field="current_password", code="wrong"
        )
    try:
        check_password_policy(new_password, email=user.email)
    except AccountError as error:
        error.field = "new_password"
        raise
    if new_password == current_password:
        raise AccountError(
            "Choose a password different from the current one.", field="new_password"
        )
    _set_password(user, new_password)
    session.add(user)
    ended = _revoke(session, user_id, except_session=keep_session_id)
    logger.info("account %s changed its password (%s other sessions ended)", user_id, ended)
    return ended


def request_password_reset(
    session: Session,
    email: str,
    *,
    client_address: str | None = None,
    limiter: Limiter | None = None,
) -> str:
    """Mail a single-use reset link; the same answer for unknown addresses."""
    address = normalize_email(email)
    _limit(limiter, "reset", address, client_address)
    user = _user_by_email(session, address)
    if user is not None:
        assert user.id is not None
        token = security.make_reset_token(
            user.id, security.password_fingerprint(user.password_hash, user.password_changed_at)
        )
        link = _link("/reset", token)
        send_mail_later(
            Mail(
                to=user.email,
                subject="Choose a new HeHo password",
                text=(
                    "Someone (perhaps you) asked to reset the password of your HeHo account.\n\n"
                    f"Open this link within one hour to choose a new one:\n\n{link}\n\n"
                    "The link works once. Choosing a new password logs you out everywhere.\n"
                    "If you did not ask, ignore this message: your password stays as it is.\n"
                ),
                dev_link=link,
            )
        )
    return RESET_ANSWER


def _user_for_reset_token(session: Session, token: str) -> User:
    bad = AccountError(
        "This reset link is invalid, expired or already used. Ask for a new one.",
        code="bad_link",
    )
    try:
        user_id, fingerprint = security.read_reset_token(token)
    except security.TokenError:
        raise bad from None
    user = session.get(User, user_id)
    if user is None or not security.constant_time_equals(
        fingerprint, security.password_fingerprint(user.password_hash, user.password_changed_at)
    ):
        raise bad
    return user


def check_reset_token(session: Session, token: str) -> None:
    """Raise AccountError when a reset link cannot be used (shown before the form)."""
    _user_for_reset_token(session, token)


def reset_password(session: Session, token: str, new_password: str) -> None:
    """Set a new password from a reset link, which then dies; end every session.

    Opening the link proves the address, so an unconfirmed account becomes confirmed.
    """
    user = _user_for_reset_token(session, token)
    try:
        check_password_policy(new_password, email=user.email)
    except AccountError as error:
        error.field = "new_password"
        raise
    _set_password(user, new_password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    session.add(user)
    assert user.id is not None
    ended = _revoke(session, user.id)
    logger.info("account %s reset its password (%s sessions ended)", user.id, ended)


# --- deletion and export ----------------------------------------------------------


def _user_tables() -> list[tuple[Table, Any]]:
    """Every table with rows about a user, children first, and how to select them.

    A table refers to a user directly (a foreign key to users.id) or through a
    table that does (e.g. grants through chatbots). New tables are picked up
    without changing this code.
    """
    users = User.__table__  # type: ignore[attr-defined]
    direct: dict[str, Any] = {}
    for table in SQLModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is users:
                direct[table.name] = fk.parent
    found: list[tuple[Table, Any]] = []
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table is users:
            continue
        if table.name in direct:
            found.append((table, ("direct", direct[table.name])))
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name in direct:
                found.append((table, ("via", fk.parent, fk.column, direct[parent.name])))
                break
    return found


def _owned(spec: Any, user_id: int) -> Any:
    if spec[0] == "direct":
        return spec[1] == user_id
    _, column, parent_column, parent_owner = spec
    return column.in_(select(parent_column).where(parent_owner == user_id))


def delete_account(session: Session, user_id: int, password: str) -> None:
    """Remove the account and every row about it (audit and access logs too)."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("Your session has ended. Log in again.", code="signed_out")
    matches, _ = security.verify_password(password, user.password_hash)
    if not matches:
        raise AccountError("This password is not right.", field="password", code="wrong")
    for table, spec in _user_tables():
        session.execute(delete(table).where(_owned(spec, user_id)))
    session.execute(delete(User).where(col(User.id) == user_id))
    logger.info("account %s deleted with all its rows", user_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    return value


def export_account(session: Session, user_id: int) -> dict[str, Any]:
    """Everything HeHo holds about the user, as JSON-ready data, secrets left out."""
    user = session.get(User, user_id)
    if user is None:
        raise AccountError("Your session has ended. Log in again.", code="signed_out")
    users = User.__table__  # type: ignore[attr-defined]
    data: dict[str, Any] = {
        "format": "heho-account-export/1",
        "exported_at": _jsonable(utcnow()),
        "excluded": sorted(SECRET_COLUMNS),
        "account": {
            column.name: _jsonable(getattr(user, column.name))
            for column in users.columns
            if column.name not in SECRET_COLUMNS
        },
        "tables": {},
    }
    for table, spec in reversed(_user_tables()):
        rows = session.execute(select(table).where(_owned(spec, user_id))).mappings().all()
        data["tables"][table.name] = [
            {key: _jsonable(value) for key, value in row.items() if key not in SECRET_COLUMNS}
            for row in rows
        ]
    return data
