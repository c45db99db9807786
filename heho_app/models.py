"""Tables of HeHo's own database: accounts, configuration, keys and logs.

Business rows, conversations and memories never live here: they stay in the
user's own Supabase project. Every row that refers to a user is removed with the
user (`ON DELETE CASCADE`).
"""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return uuid.uuid4().hex


def _user_fk(*, nullable: bool = False) -> Column:
    return Column(ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable, index=True)


def _chatbot_fk(*, nullable: bool = False) -> Column:
    return Column(
        String(32),
        ForeignKey("chatbots.id", ondelete="CASCADE"),
        nullable=nullable,
        index=True,
    )


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    email_verified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)


class UserSession(SQLModel, table=True):
    """A server-side login session; the JWT names it so that it can be revoked."""

    __tablename__ = "user_sessions"

    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=32)
    user_id: int = Field(sa_column=_user_fk())
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    user_agent: str = Field(default="", max_length=512)
    client_address: str = Field(default="", max_length=64)


class Chatbot(SQLModel, table=True):
    __tablename__ = "chatbots"

    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=32)
    user_id: int = Field(sa_column=_user_fk())
    name: str = Field(max_length=120)
    goal: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=20000)
    model: str = Field(default="openai/gpt-4o-mini", max_length=200)
    tone: str = Field(default="friendly", max_length=20)
    theme: str = Field(default="twilight", max_length=20)
    temperature: float = Field(default=0.7)
    memory_enabled: bool = Field(default=True)
    approve_writes: bool = Field(default=False)
    row_cap: int = Field(default=100)
    log_filter_values: bool = Field(default=False)
    supabase_url: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class TableGrant(SQLModel, table=True):
    """What one chatbot may do on one table of its Supabase project."""

    __tablename__ = "table_grants"
    __table_args__ = (UniqueConstraint("chatbot_id", "table_name"),)

    id: int | None = Field(default=None, primary_key=True)
    chatbot_id: str = Field(sa_column=_chatbot_fk())
    table_name: str = Field(max_length=63)
    can_read: bool = Field(default=True)
    can_insert: bool = Field(default=False)
    can_update: bool = Field(default=False)
    can_delete: bool = Field(default=False)


class Credential(SQLModel, table=True):
    """A third-party key (OpenRouter, Supabase), AES-256-GCM encrypted.

    `key_id` repeats the keyring id inside the ciphertext so that rotation can
    find what is still under an old key without decrypting everything.
    """

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("user_id", "kind", "chatbot_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    chatbot_id: str | None = Field(default=None, sa_column=_chatbot_fk(nullable=True))
    kind: str = Field(max_length=20)
    ciphertext: str
    key_id: str = Field(max_length=32, index=True)
    last4: str = Field(default="", max_length=4)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """A HeHo API key: only a short prefix and a hash are kept."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True, index=True)
    key_hash: str = Field(max_length=128)
    rate_limit_per_minute: int = Field(default=60)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    """One step of an autonomous operation; append-only and hash-chained per user.

    An operation writes a `pending` event before it starts and a second event
    (pointing at the first through `completes_id`) when it ends.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("user_id", "seq"),
        Index("ix_audit_events_user_created", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=_user_fk())
    seq: int
    chatbot_id: str | None = Field(default=None, max_length=32, index=True)
    conversation_id: str | None = Field(default=None, max_length=64)
    completes_id: int | None = Field(default=None)
    tool: str = Field(max_length=40)
    table_name: str | None = Field(default=None, max_length=200)
    operation: str | None = Field(default=None, max_length=20)
    filters: str = Field(default="[]")
    rows_affected: int | None = None
    outcome: str = Field(max_length=10)
    duration_ms: float | None = None
    error_code: str | None = Field(default=None, max_length=60)
    detail: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    prev_hash: str = Field(max_length=64)
    row_hash: str = Field(max_length=64)


class AccessLogEntry(SQLModel, table=True):
    """One request to the REST API."""

    __tablename__ = "access_log"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, sa_column=_user_fk(nullable=True))
    key_prefix: str | None = Field(default=None, max_length=16)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    status: int
    duration_ms: float
    client_address: str = Field(default="", max_length=64)


class KeyAccessEvent(SQLModel, table=True):
    """A stored third-party key was decrypted for use: who, which key, for what."""

    __tablename__ = "key_access_log"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int = Field(sa_column=_user_fk())
    credential_id: int | None = Field(default=None)
    credential_kind: str = Field(max_length=20)
    chatbot_id: str | None = Field(default=None, max_length=32)
    purpose: str = Field(max_length=200)
