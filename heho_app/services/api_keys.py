"""HeHo API keys: create, verify, list, revoke, rotate.

A key looks like `heho_<prefix>_<secret>`: the prefix (12 lowercase hex characters)
names the key and may be shown and logged; the secret (43 base62 characters, about
256 bits) is shown once and never stored. What is stored is HMAC-SHA256 of the whole
key under HEHO_SECRET_KEY: the key has full entropy, so a slow password hash would
only cost time, and the HMAC makes a leaked table useless without the secret key
(changing HEHO_SECRET_KEY therefore invalidates every API key).
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from heho_app.models import ApiKey, utcnow
from heho_app.settings import get_settings

KEY_SCHEME = "heho"
PREFIX_LENGTH = 12
SECRET_LENGTH = 43
_BASE62 = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(
    rf"^{KEY_SCHEME}_(?P<prefix>[0-9a-f]{{{PREFIX_LENGTH}}})_[A-Za-z0-9]{{{SECRET_LENGTH}}}$"
)
# Anything that looks like a HeHo key, e.g. pasted into a URL or a log line.
KEY_LIKE = re.compile(rf"{KEY_SCHEME}_[0-9a-f]{{{PREFIX_LENGTH}}}_[A-Za-z0-9]{{8,}}")
NAME_MAX_LENGTH = 100
# last_used_at is written at most this often per key: a write per request is waste.
TOUCH_INTERVAL = timedelta(seconds=30)


class ApiKeyError(LookupError):
    """The key does not exist, is not the user's, or is already revoked."""


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: never its hash, never its secret."""

    id: int
    name: str
    prefix: str
    rate_limit_per_minute: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyInfo":
        assert key.id is not None
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            rate_limit_per_minute=key.rate_limit_per_minute,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@dataclass(frozen=True)
class NewApiKey:
    """A freshly made key: `plaintext` exists only here, to be shown once."""

    info: ApiKeyInfo
    plaintext: str


@dataclass(frozen=True)
class VerifiedKey:
    """The identity a valid key stands for; safe to keep for a request's duration."""

    id: int
    user_id: int
    prefix: str
    rate_limit_per_minute: int


def hash_key(plaintext: str, secret_key: str | None = None) -> str:
    secret_key = secret_key or get_settings().secret_key
    return hmac.new(secret_key.encode(), plaintext.encode(), hashlib.sha256).hexdigest()


# Compared against when the prefix is unknown, so that a miss costs what a hit costs.
_DUMMY_HASH = "0" * 64


def _generate() -> tuple[str, str]:
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    secret = "".join(secrets.choice(_BASE62) for _ in range(SECRET_LENGTH))
    return prefix, f"{KEY_SCHEME}_{prefix}_{secret}"


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"a key name has 1 to {NAME_MAX_LENGTH} characters")
    return name


def create_api_key(
    session: Session,
    *,
    user_id: int,
    name: str,
    rate_limit_per_minute: int | None = None,
) -> NewApiKey:
    """Make a key for the user; the caller commits and shows `plaintext` once."""
    limit = rate_limit_per_minute or get_settings().api_rate_limit_per_minute
    if limit < 1:
        raise ValueError("a rate limit is at least 1 request per minute")
    prefix, plaintext = _generate()
    key = ApiKey(
        user_id=user_id,
        name=_clean_name(name),
        prefix=prefix,
        key_hash=hash_key(plaintext),
        rate_limit_per_minute=limit,
    )
    session.add(key)
    session.flush()
    return NewApiKey(info=ApiKeyInfo.of(key), plaintext=plaintext)


def parse_prefix(presented: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    match = KEY_PATTERN.match(presented)
    return match.group("prefix") if match else None


def verify_api_key(session: Session, presented: str) -> VerifiedKey | None:
    """The key's identity if it is well formed, known and not revoked; else None.

    Every failure looks the same to the caller, and the hash comparison is
    constant-time and happens whether or not the prefix exists.
    """
    prefix = parse_prefix(presented)
    key = (
        session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
        if prefix is not None
        else None
    )
    presented_hash = hash_key(presented)
    matches = hmac.compare_digest(presented_hash, key.key_hash if key else _DUMMY_HASH)
    if key is None or not matches or key.revoked_at is not None:
        return None
    assert key.id is not None
    return VerifiedKey(
        id=key.id,
        user_id=key.user_id,
        prefix=key.prefix,
        rate_limit_per_minute=key.rate_limit_per_minute,
    )


def list_api_keys(session: Session, *, user_id: int) -> list[ApiKeyInfo]:
    """The user's keys, newest first, revoked ones included."""
    keys = session.exec(
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())
    ).all()
    return [ApiKeyInfo.of(key) for key in keys]


def _revoke(session: Session, *, user_id: int, key_id: int) -> ApiKey:
    """Revoke with one conditional UPDATE, so two concurrent revokes cannot both win."""
    result = session.execute(
        update(ApiKey)
        .where(
            col(ApiKey.id) == key_id,
            col(ApiKey.user_id) == user_id,
            col(ApiKey.revoked_at).is_(None),
        )
        .values(revoked_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiKeyError("no such active key")
    key = session.get(ApiKey, key_id)
    assert key is not None
    session.refresh(key)
    return key


def revoke_api_key(session: Session, *, user_id: int, key_id: int) -> ApiKeyInfo:
    """Revoke one of the user's keys; the caller commits."""
    return ApiKeyInfo.of(_revoke(session, user_id=user_id, key_id=key_id))


def rotate_api_key(session: Session, *, user_id: int, key_id: int) -> NewApiKey:
    """Revoke the key and make its successor (same name and limit) in one transaction."""
    old = _revoke(session, user_id=user_id, key_id=key_id)
    return create_api_key(
        session,
        user_id=user_id,
        name=old.name,
        rate_limit_per_minute=old.rate_limit_per_minute,
    )


def touch_api_keys(session: Session, key_ids: set[int], at: datetime | None = None) -> None:
    """Record use of the keys, at most once per TOUCH_INTERVAL each; the caller commits."""
    if not key_ids:
        return
    at = at or utcnow()
    session.execute(
        update(ApiKey)
        .where(
            col(ApiKey.id).in_(key_ids),
            col(ApiKey.last_used_at).is_(None) | (col(ApiKey.last_used_at) < at - TOUCH_INTERVAL),
        )
        .values(last_used_at=at)
    )
