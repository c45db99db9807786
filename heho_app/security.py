"""Security helpers in one place: password hashing, session JWTs, signed email
links, CSRF tokens and constant-time comparison.

Nothing here touches the database or Reflex. Every secret is derived from
`HEHO_SECRET_KEY` with a purpose label, so that a token made for one purpose
(an email link) can never be replayed as another (a session).
"""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jwt
from itsdangerous import BadData, URLSafeTimedSerializer
from passlib.context import CryptContext
from passlib.exc import PasswordSizeError, PasswordTruncateError

from heho_app.settings import get_settings

BCRYPT_ROUNDS = 12
BCRYPT_MAX_BYTES = 72
JWT_ALGORITHM = "HS256"
VERIFY_EMAIL_MAX_AGE = timedelta(hours=24)
RESET_PASSWORD_MAX_AGE = timedelta(hours=1)

SESSION_COOKIE = "heho_session"
CSRF_COOKIE = "heho_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
# Where login leads when the login page was not given a `next` page.
DEFAULT_AFTER_LOGIN = "/account"
# Hosts where a plain (unencrypted) connection never leaves this machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# bcrypt with 12 rounds; a stored hash with fewer rounds (or another scheme listed
# as deprecated later) is reported by `verify_password` so that it is re-hashed.
password_context = CryptContext(
    schemes=["bcrypt"],
    bcrypt__rounds=BCRYPT_ROUNDS,
    bcrypt__truncate_error=True,
)


class TokenError(Exception):
    """A token is missing, malformed, tampered with, expired or of the wrong kind."""


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two secrets without leaking where they first differ."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def derive_key(purpose: str, secret_key: str | None = None) -> bytes:
    """A sub-key of HEHO_SECRET_KEY for one purpose."""
    secret = (secret_key or get_settings().secret_key).encode()
    return hmac.new(secret, b"heho:" + purpose.encode(), hashlib.sha256).digest()


# --- passwords --------------------------------------------------------------------


def password_too_long(password: str) -> bool:
    """bcrypt reads only 72 bytes; HeHo refuses longer passwords instead of truncating."""
    return len(password.encode("utf-8")) > BCRYPT_MAX_BYTES


def hash_password(password: str) -> str:
    if password_too_long(password):
        raise ValueError("password longer than 72 bytes")
    return password_context.hash(password)


def verify_password(password: str, stored_hash: str) -> tuple[bool, str | None]:
    """(matches, new hash or None): a new hash when the stored one is weaker than
    bcrypt with 12 rounds, to be saved by the caller."""
    if password_too_long(password):
        return False, None
    try:
        return password_context.verify_and_update(password, stored_hash)
    except (ValueError, TypeError, PasswordSizeError, PasswordTruncateError):
        return False, None


_dummy_hash: str | None = None


def burn_password_check(password: str) -> None:
    """Spend the time of one bcrypt check, so that an unknown email answers as
    slowly as a known one (whatever the password, even one too long to check)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = password_context.hash(secrets.token_urlsafe(16))
    candidate = password if not password_too_long(password) else "x" * BCRYPT_MAX_BYTES
    verify_password(candidate, _dummy_hash)


def bcrypt_cost(stored_hash: str) -> int:
    """The cost factor of a `$2b$NN$...` hash."""
    return int(stored_hash.split("$")[2])


# --- session tokens (JWT) -------------------------------------------------------


@dataclass(frozen=True)
class SessionClaims:
    user_id: int
    session_id: str
    expires_at: datetime


def encode_session_token(
    *, user_id: int, session_id: str, expires_at: datetime, secret_key: str | None = None
) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "typ": "heho-session",
    }
    return jwt.encode(payload, derive_key("session-jwt", secret_key), algorithm=JWT_ALGORITHM)


def decode_session_token(token: str, *, secret_key: str | None = None) -> SessionClaims:
    """Check signature, algorithm, expiry and shape; the caller checks the session row."""
    if not token or len(token) > 4096:
        raise TokenError("no token")
    try:
        payload = jwt.decode(
            token,
            derive_key("session-jwt", secret_key),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "sid", "iat"]},
        )
    except jwt.PyJWTError as error:
        raise TokenError(type(error).__name__) from None
    if payload.get("typ") != "heho-session" or not isinstance(payload.get("sid"), str):
        raise TokenError("wrong token type")
    try:
        user_id = int(payload["sub"])
    except (TypeError, ValueError):
        raise TokenError("bad subject") from None
    return SessionClaims(
        user_id=user_id,
        session_id=payload["sid"],
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
    )


# --- signed email links (itsdangerous) ------------------------------------------


@lru_cache(maxsize=8)
def _serializer(salt: str, secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=salt)


def _sign(salt: str, payload: dict[str, Any]) -> str:
    return _serializer(salt, get_settings().secret_key).dumps(payload)


def _unsign(salt: str, token: str, max_age: timedelta) -> dict[str, Any]:
    if not token or len(token) > 2048:
        raise TokenError("no token")
    try:
        payload = _serializer(salt, get_settings().secret_key).loads(
            token, max_age=int(max_age.total_seconds())
        )
    except BadData as error:
        raise TokenError(type(error).__name__) from None
    if not isinstance(payload, dict):
        raise TokenError("bad payload")
    return payload


def make_verification_token(user_id: int, email: str) -> str:
    return _sign("heho.verify-email", {"uid": user_id, "email": email})


def read_verification_token(token: str) -> tuple[int, str]:
    payload = _unsign("heho.verify-email", token, VERIFY_EMAIL_MAX_AGE)
    try:
        return int(payload["uid"]), str(payload["email"])
    except (KeyError, TypeError, ValueError):
        raise TokenError("bad payload") from None


def password_fingerprint(password_hash: str, password_changed_at: datetime) -> str:
    """Changes whenever the password does, so a reset link dies once it is used."""
    stamp = int(password_changed_at.replace(tzinfo=password_changed_at.tzinfo or UTC).timestamp())
    digest = hmac.new(
        derive_key("reset-fingerprint"), f"{password_hash}|{stamp}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def make_reset_token(user_id: int, fingerprint: str) -> str:
    return _sign("heho.reset-password", {"uid": user_id, "fp": fingerprint})


def read_reset_token(token: str) -> tuple[int, str]:
    payload = _unsign("heho.reset-password", token, RESET_PASSWORD_MAX_AGE)
    try:
        return int(payload["uid"]), str(payload["fp"])
    except (KeyError, TypeError, ValueError):
        raise TokenError("bad payload") from None


# --- CSRF -----------------------------------------------------------------------


def new_csrf_seed() -> str:
    """The random value kept in the HttpOnly `heho_csrf` cookie of one browser."""
    return secrets.token_urlsafe(32)


def csrf_token_for(seed: str) -> str:
    """The token a page sends back with each state-changing request."""
    digest = hmac.new(derive_key("csrf"), seed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_token_valid(seed: str | None, token: str | None) -> bool:
    if not seed or not token or len(token) > 128 or len(seed) > 128:
        return False
    return constant_time_equals(csrf_token_for(seed), token)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, as browsers send in `Origin`."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def app_origin() -> str:
    return origin_of(get_settings().public_url)


def origin_allowed(origin: str | None) -> bool:
    """Only the app's own origin (from HEHO_PUBLIC_URL) may change anything."""
    return bool(origin) and constant_time_equals(origin_of(origin or ""), app_origin())


# --- cookies --------------------------------------------------------------------


def read_cookie(cookie_header: str, name: str) -> str | None:
    """One cookie's value from a raw `Cookie:` header (as Reflex hands it over)."""
    for part in (cookie_header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value.strip('"')
    return None


# --- redirects -------------------------------------------------------------------


def safe_next(value: Any, default: str = DEFAULT_AFTER_LOGIN) -> str:
    """A same-site path to go to after login; anything else becomes `default`."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 500:
        return default
    if value.startswith(("//", "/\\")) or any(ch in value for ch in "\\\r\n\t"):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value
