"""Throwaway settings and connected chatbots, for the benchmarks and the tests."""

import base64
import secrets
from pathlib import Path
from typing import Any

from sqlmodel import Session

from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.models import Chatbot, User, utcnow
from heho_app.services.credentials import OPENROUTER, SUPABASE, store_credential
from heho_app.services.permissions import save_grants


def throwaway_settings(root: Path) -> dict[str, str]:
    """HeHo's settings for a run that keeps nothing: a SQLite file, fresh secrets and
    the mail outbox, all under `root`. Put them in the environment before HeHo reads
    its settings."""
    encryption_key = base64.b64encode(secrets.token_bytes(32)).decode()
    return {
        "REFLEX_DB_URL": f"sqlite:///{root / 'heho.db'}",
        "HEHO_SECRET_KEY": secrets.token_urlsafe(48),
        "HEHO_ENCRYPTION_KEYS": f"throwaway:{encryption_key}",
        "HEHO_OUTBOX_DIR": str(root / "outbox"),
        "HEHO_DEV_SECRETS_FILE": str(root / "dev-secrets.json"),
    }


def connect_chatbot(
    session: Session,
    *,
    user_id: int,
    chatbot_id: str,
    stack: LocalSupabase,
    openrouter_key: str,
    grants: list[dict] | None = None,
) -> None:
    """Store the user's OpenRouter key and the chatbot's service key for `stack`,
    and save `grants` (if given), as the settings pages would."""
    if grants is not None:
        save_grants(session, chatbot_id, grants)
    store_credential(session, user_id=user_id, kind=OPENROUTER, plaintext=openrouter_key)
    store_credential(
        session,
        user_id=user_id,
        kind=SUPABASE,
        plaintext=stack.service_key,
        chatbot_id=chatbot_id,
    )


NO_LOGIN = "!"  # a password hash that matches no password


def add_user(
    session: Session, *, email: str, password_hash: str = NO_LOGIN, verified: bool = False
) -> User:
    """A user row; by default nobody can log in as it."""
    user = User(
        email=email,
        password_hash=password_hash,
        email_verified_at=utcnow() if verified else None,
    )
    session.add(user)
    session.flush()
    return user


def add_connected_chatbot(
    session: Session,
    *,
    user_id: int,
    stack: LocalSupabase,
    openrouter_key: str,
    grants: list[dict] | None = None,
    **settings: Any,
) -> Chatbot:
    """A new chatbot of the user's (`settings`: its fields, e.g. `name`), connected
    to `stack` by `connect_chatbot`."""
    chatbot = Chatbot(user_id=user_id, supabase_url=stack.url, **settings)
    session.add(chatbot)
    session.flush()
    connect_chatbot(
        session,
        user_id=user_id,
        chatbot_id=chatbot.id,
        stack=stack,
        openrouter_key=openrouter_key,
        grants=grants,
    )
    return chatbot
