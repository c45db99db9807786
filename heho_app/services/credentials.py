"""Third-party keys (OpenRouter, Supabase) encrypted at rest.

A plaintext key exists only inside `store_credential` and `reveal_credential`;
every reveal is written to the key access log.
"""

from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import Session, col, func, select

from heho_app.models import Credential, KeyAccessEvent, utcnow
from heho_app.services.crypto import Keyring
from heho_app.settings import get_settings

OPENROUTER = "openrouter"
SUPABASE = "supabase"
KINDS = (OPENROUTER, SUPABASE)


@lru_cache
def get_keyring() -> Keyring:
    return Keyring.parse(get_settings().encryption_keys)


def credential_purpose(kind: str, chatbot_id: str | None) -> str:
    return f"credential:{kind}:{chatbot_id or '-'}"


def _find(session: Session, user_id: int, kind: str, chatbot_id: str | None) -> Credential | None:
    return session.exec(
        select(Credential).where(
            Credential.user_id == user_id,
            Credential.kind == kind,
            Credential.chatbot_id == chatbot_id
            if chatbot_id is not None
            else col(Credential.chatbot_id).is_(None),
        )
    ).first()


def store_credential(
    session: Session,
    *,
    user_id: int,
    kind: str,
    plaintext: str,
    chatbot_id: str | None = None,
    keyring: Keyring | None = None,
) -> Credential:
    """Encrypt and save a key, replacing the one of the same kind and chatbot."""
    if kind not in KINDS:
        raise ValueError(f"unknown credential kind '{kind}'")
    keyring = keyring or get_keyring()
    ciphertext = keyring.encrypt(
        plaintext, owner=user_id, purpose=credential_purpose(kind, chatbot_id)
    )
    credential = _find(session, user_id, kind, chatbot_id) or Credential(
        user_id=user_id, kind=kind, chatbot_id=chatbot_id, ciphertext="", key_id=""
    )
    credential.ciphertext = ciphertext
    credential.key_id = keyring.primary_id
    credential.last4 = plaintext[-4:]
    credential.updated_at = utcnow()
    session.add(credential)
    session.flush()
    return credential


def reveal_credential(
    session: Session,
    credential: Credential,
    *,
    purpose: str,
    keyring: Keyring | None = None,
) -> str:
    """Decrypt a stored key for one use, and log who used which key for what."""
    keyring = keyring or get_keyring()
    plaintext = keyring.decrypt(
        credential.ciphertext,
        owner=credential.user_id,
        purpose=credential_purpose(credential.kind, credential.chatbot_id),
    )
    session.add(
        KeyAccessEvent(
            user_id=credential.user_id,
            credential_id=credential.id,
            credential_kind=credential.kind,
            chatbot_id=credential.chatbot_id,
            purpose=purpose[:200],
        )
    )
    return plaintext


def find_credential(
    session: Session, *, user_id: int, kind: str, chatbot_id: str | None = None
) -> Credential | None:
    return _find(session, user_id, kind, chatbot_id)


@dataclass
class RotationReport:
    moved: int
    remaining_by_key_id: dict[str, int]


def count_by_key_id(session: Session) -> dict[str, int]:
    rows = session.exec(select(Credential.key_id, func.count()).group_by(Credential.key_id)).all()
    return dict(rows)


def rotate_credentials(
    session_factory,
    *,
    keyring: Keyring | None = None,
    batch_size: int = 200,
    max_batches: int | None = None,
) -> RotationReport:
    """Re-encrypt every credential not under the primary key, one batch per transaction.

    Each batch commits on its own, so an interrupted run keeps what it moved and a
    later run picks up the rest.
    """
    keyring = keyring or get_keyring()
    moved = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with session_factory() as session:
            batch = session.exec(
                select(Credential)
                .where(Credential.key_id != keyring.primary_id)
                .order_by(col(Credential.id))
                .limit(batch_size)
            ).all()
            if not batch:
                break
            for credential in batch:
                credential.ciphertext = keyring.reencrypt(
                    credential.ciphertext,
                    owner=credential.user_id,
                    purpose=credential_purpose(credential.kind, credential.chatbot_id),
                )
                credential.key_id = keyring.primary_id
                session.add(credential)
            session.commit()
        moved += len(batch)
        batches += 1
    with session_factory() as session:
        remaining = {
            key_id: count
            for key_id, count in count_by_key_id(session).items()
            if key_id != keyring.primary_id
        }
    return RotationReport(moved=moved, remaining_by_key_id=remaining)
