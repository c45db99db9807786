"""The user's own OpenRouter key, their HeHo API keys and the key access log, for
the Keys page.

The key is checked against OpenRouter before it is stored (encrypted); afterwards only
its last four characters are ever returned. Supabase keys belong to chatbots (see
`chatbots.set_connection`).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from heho_app.db import session_scope
from heho_app.models import Chatbot, Credential, KeyAccessEvent
from heho_app.services import openrouter
from heho_app.services.api_keys import ApiKeyInfo, list_api_keys
from heho_app.services.credentials import OPENROUTER, find_credential, store_credential

MAX_KEY_LENGTH = 4096


class OpenRouterKeyError(ValueError):
    """The key cannot be saved; `message` says why (never repeating the key)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredKey:
    last4: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class KeyAccess:
    """One decryption of a stored key."""

    id: int
    created_at: datetime
    kind: str
    chatbot_id: str | None
    chatbot_name: str | None
    purpose: str


def openrouter_key_status(session: Session, *, user_id: int) -> StoredKey | None:
    stored = find_credential(session, user_id=user_id, kind=OPENROUTER)
    if stored is None:
        return None
    return StoredKey(last4=stored.last4, created_at=stored.created_at, updated_at=stored.updated_at)


async def set_openrouter_key(*, user_id: int, key: str) -> StoredKey:
    """Check the key with OpenRouter, then store it (replacing any other).

    Raises OpenRouterKeyError when the key is malformed or OpenRouter refuses it.
    """
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or any(c.isspace() for c in key):
        raise OpenRouterKeyError("Paste your OpenRouter API key (it starts with sk-or-).")
    try:
        await openrouter.check_key(key)
    except openrouter.OpenRouterError as error:
        raise OpenRouterKeyError(error.info.message) from None
    with session_scope() as session:
        stored = store_credential(session, user_id=user_id, kind=OPENROUTER, plaintext=key)
        return StoredKey(
            last4=stored.last4, created_at=stored.created_at, updated_at=stored.updated_at
        )


def remove_openrouter_key(session: Session, *, user_id: int) -> bool:
    """Delete the stored key; False when there was none."""
    result = session.execute(
        delete(Credential).where(
            col(Credential.user_id) == user_id,
            col(Credential.kind) == OPENROUTER,
            col(Credential.chatbot_id).is_(None),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_key_access(session: Session, *, user_id: int, limit: int = 200) -> list[KeyAccess]:
    """The newest uses of the user's stored keys, with the chatbot's name when known."""
    rows = session.exec(
        select(KeyAccessEvent, Chatbot.name)
        .join(Chatbot, col(Chatbot.id) == col(KeyAccessEvent.chatbot_id), isouter=True)
        .where(KeyAccessEvent.user_id == user_id)
        .order_by(col(KeyAccessEvent.created_at).desc(), col(KeyAccessEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        KeyAccess(
            id=event.id or 0,
            created_at=event.created_at,
            kind=event.credential_kind,
            chatbot_id=event.chatbot_id,
            chatbot_name=name,
            purpose=event.purpose,
        )
        for event, name in rows
    ]


@dataclass(frozen=True)
class KeysOverview:
    """What the Keys page shows: never a key, only the OpenRouter key's last four and
    the API keys' public prefixes."""

    openrouter: StoredKey | None
    api_keys: list[ApiKeyInfo]
    access: list[KeyAccess]


def keys_overview(session: Session, *, user_id: int) -> KeysOverview:
    return KeysOverview(
        openrouter=openrouter_key_status(session, user_id=user_id),
        api_keys=list_api_keys(session, user_id=user_id),
        access=list_key_access(session, user_id=user_id),
    )
