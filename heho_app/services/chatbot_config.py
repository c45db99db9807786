"""Chatbot configuration: the one service the settings pages (and the REST API) use.

Every function takes the owner's user id and refuses a chatbot of anyone else with
`ChatbotNotFound`, exactly as if it did not exist. Settings are validated as a whole
(`ChatbotSettings`, unknown fields refused) before anything is written; a bad value
raises `ChatbotError` whose `fields` maps each bad field to a message a person
understands, and nothing changes.

A chatbot's Supabase connection is its project URL (a column) plus its key (a
`Credential` of kind SUPABASE, encrypted). The key goes in through `set_connection`
or `connect_and_save` and comes out only inside `test_connection`/`connect_and_save`
through `reveal_credential`, which logs the use; callers only ever see `last4`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete
from sqlmodel import Session, col, select

from heho_app.db import session_scope
from heho_app.models import Chatbot, Credential, TableGrant, utcnow
from heho_app.services import permissions
from heho_app.services.credentials import SUPABASE, find_credential, reveal_credential
from heho_app.services.credentials import store_credential as _store_credential
from heho_app.services.permissions import GrantError, TableGrantSpec
from heho_app.services.supabase_link import (
    HEHO_TABLES,
    LinkCheck,
    LinkError,
    LinkProblem,
    check_connection,
    normalise_url,
)

TONES = ("friendly", "professional", "strict")
THEMES = ("twilight", "sunrise", "ocean", "forest", "grape", "rose", "sky", "candy")
# The Radix colour each theme paints the chat with (and its swatch in the settings).
THEME_ACCENTS = {
    "twilight": "indigo",
    "sunrise": "orange",
    "ocean": "cyan",
    "forest": "grass",
    "grape": "purple",
    "rose": "crimson",
    "sky": "sky",
    "candy": "pink",
}
Tone = Literal["friendly", "professional", "strict"]
Theme = Literal["twilight", "sunrise", "ocean", "forest", "grape", "rose", "sky", "candy"]
DEFAULT_MODEL = "openai/gpt-4o-mini"
ROW_CAP_MAX = 1000
TEST_PURPOSE = "test connection"

# One message per field, whatever pydantic found wrong with it.
FIELD_MESSAGES = {
    "name": "Give the chatbot a name of 1 to 120 characters.",
    "goal": "The goal has at most 2,000 characters.",
    "description": "The description has at most 20,000 characters.",
    "model": "Pick a model, or type a model id such as openai/gpt-4o-mini (no spaces).",
    "tone": "The tone is friendly, professional or strict.",
    "theme": "The theme is one of " + ", ".join(THEMES) + ".",
    "temperature": "The temperature is a number from 0 to 2.",
    "row_cap": "The row cap is a whole number from 1 to 1000.",
    "memory_enabled": "Memory is either on or off.",
    "approve_writes": "Asking before writes is either on or off.",
    "log_filter_values": "Logging filter values is either on or off.",
}


class ChatbotError(ValueError):
    """Input that cannot be saved; `fields` maps field names to messages."""

    def __init__(self, fields: Mapping[str, str] | None = None, message: str = "") -> None:
        self.fields = dict(fields or {})
        self.message = message or "; ".join(self.fields.values()) or "Invalid input."
        super().__init__(self.message)


class ChatbotNotFound(LookupError):
    """No such chatbot among the user's own."""

    message = "This chatbot does not exist, or it is not yours."

    def __init__(self) -> None:
        super().__init__(self.message)


class ChatbotSettings(BaseModel):
    """Everything a user configures on a chatbot except its connection and grants."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=120)
    goal: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=20000)
    model: str = Field(default=DEFAULT_MODEL, min_length=1, max_length=200, pattern=r"^\S+$")
    tone: Tone = "friendly"
    theme: Theme = "twilight"
    temperature: float = Field(default=0.7, ge=0, le=2, allow_inf_nan=False)
    memory_enabled: bool = True
    approve_writes: bool = False
    row_cap: int = Field(default=100, ge=1, le=ROW_CAP_MAX)
    log_filter_values: bool = False

    @field_validator("goal", "description", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value


SETTING_FIELDS = tuple(ChatbotSettings.model_fields)


def validate_settings(data: Mapping[str, Any]) -> ChatbotSettings:
    """Validate a complete set of settings; raises ChatbotError naming every bad field."""
    try:
        return ChatbotSettings.model_validate(dict(data))
    except ValidationError as error:
        fields: dict[str, str] = {}
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "form"
            if problem["type"] == "extra_forbidden":
                fields.setdefault(name, f"'{name[:40]}' is not a chatbot setting.")
            else:
                fields.setdefault(name, FIELD_MESSAGES.get(name, problem["msg"]))
        raise ChatbotError(fields) from None


@dataclass(frozen=True)
class ChatbotSummary:
    """A row of the chatbot list."""

    id: str
    name: str
    model: str
    theme: str
    project_host: str | None
    """The connected project's host name, None when not connected."""
    connected: bool
    """URL and key are both stored."""
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class ChatbotDetail:
    """One chatbot as its settings page shows it: never the key, only its last four."""

    id: str
    settings: ChatbotSettings
    supabase_url: str | None
    key_last4: str | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None

    @property
    def connected(self) -> bool:
        return bool(self.supabase_url and self.key_last4 is not None)


def _host(url: str | None) -> str | None:
    return urlsplit(url).netloc or None if url else None


def _owned(session: Session, user_id: int, chatbot_id: str) -> Chatbot:
    chatbot = session.get(Chatbot, chatbot_id) if isinstance(chatbot_id, str) else None
    if chatbot is None or chatbot.user_id != user_id:
        raise ChatbotNotFound
    return chatbot


def _settings_of(chatbot: Chatbot) -> ChatbotSettings:
    return ChatbotSettings.model_construct(
        **{name: getattr(chatbot, name) for name in SETTING_FIELDS}
    )


def _detail(session: Session, chatbot: Chatbot) -> ChatbotDetail:
    key = find_credential(session, user_id=chatbot.user_id, kind=SUPABASE, chatbot_id=chatbot.id)
    return ChatbotDetail(
        id=chatbot.id,
        settings=_settings_of(chatbot),
        supabase_url=chatbot.supabase_url,
        key_last4=key.last4 if key else None,
        created_at=chatbot.created_at,
        updated_at=chatbot.updated_at,
        last_used_at=chatbot.last_used_at,
    )


# --------------------------------------------------------------------------- CRUD


def list_chatbots(session: Session, *, user_id: int) -> list[ChatbotSummary]:
    """The user's chatbots, most recently used (then created) first."""
    chatbots = session.exec(select(Chatbot).where(Chatbot.user_id == user_id)).all()
    keyed = set(
        session.exec(
            select(Credential.chatbot_id).where(
                Credential.user_id == user_id, Credential.kind == SUPABASE
            )
        ).all()
    )
    rows = [
        ChatbotSummary(
            id=c.id,
            name=c.name,
            model=c.model,
            theme=c.theme,
            project_host=_host(c.supabase_url),
            connected=bool(c.supabase_url) and c.id in keyed,
            created_at=c.created_at,
            last_used_at=c.last_used_at,
        )
        for c in chatbots
    ]
    rows.sort(key=lambda r: (r.last_used_at or r.created_at, r.created_at), reverse=True)
    return rows


def get_chatbot(session: Session, *, user_id: int, chatbot_id: str) -> ChatbotDetail:
    return _detail(session, _owned(session, user_id, chatbot_id))


def create_chatbot(session: Session, *, user_id: int, data: Mapping[str, Any]) -> ChatbotDetail:
    """A new chatbot from `data` (at least a name; the rest has defaults)."""
    settings = validate_settings(data)
    chatbot = Chatbot(user_id=user_id, **settings.model_dump())
    session.add(chatbot)
    session.flush()
    return _detail(session, chatbot)


def update_chatbot(
    session: Session, *, user_id: int, chatbot_id: str, data: Mapping[str, Any]
) -> ChatbotDetail:
    """Change some settings; the result is validated as a whole before it is written."""
    chatbot = _owned(session, user_id, chatbot_id)
    unknown = [name for name in data if name not in SETTING_FIELDS]
    if unknown:
        raise ChatbotError({name: f"'{name[:40]}' is not a chatbot setting." for name in unknown})
    merged = {**_settings_of(chatbot).model_dump(), **data}
    settings = validate_settings(merged)
    for name, value in settings.model_dump().items():
        setattr(chatbot, name, value)
    chatbot.updated_at = utcnow()
    session.add(chatbot)
    session.flush()
    return _detail(session, chatbot)


def copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[: 120 - len(suffix)] + suffix


def duplicate_chatbot(session: Session, *, user_id: int, chatbot_id: str) -> ChatbotDetail:
    """A copy with the same settings and grants; the connection (URL and key) is not copied."""
    source = _owned(session, user_id, chatbot_id)
    settings = _settings_of(source).model_dump()
    settings["name"] = copy_name(source.name)
    copy = Chatbot(user_id=user_id, **settings)
    session.add(copy)
    session.flush()
    for grant in session.exec(select(TableGrant).where(TableGrant.chatbot_id == source.id)).all():
        session.add(
            TableGrant(
                chatbot_id=copy.id,
                table_name=grant.table_name,
                can_read=grant.can_read,
                can_insert=grant.can_insert,
                can_update=grant.can_update,
                can_delete=grant.can_delete,
            )
        )
    session.flush()
    return _detail(session, copy)


def delete_chatbot(session: Session, *, user_id: int, chatbot_id: str) -> None:
    """Remove the chatbot with its grants and its stored key."""
    chatbot = _owned(session, user_id, chatbot_id)
    session.execute(delete(TableGrant).where(col(TableGrant.chatbot_id) == chatbot.id))
    session.execute(delete(Credential).where(col(Credential.chatbot_id) == chatbot.id))
    session.delete(chatbot)
    session.flush()


# --------------------------------------------------------------------------- grants


def get_grants(session: Session, *, user_id: int, chatbot_id: str) -> list[TableGrantSpec]:
    """The chatbot's saved grants, by table name."""
    _owned(session, user_id, chatbot_id)
    policy = permissions.load_policy(session, chatbot_id)
    return [policy.grants[name] for name in sorted(policy.grants)]


def get_chatbot_with_grants(
    session: Session, *, user_id: int, chatbot_id: str
) -> tuple[ChatbotDetail, list[TableGrantSpec]]:
    """A chatbot and its grants, as its settings page and the API show it."""
    return (
        get_chatbot(session, user_id=user_id, chatbot_id=chatbot_id),
        get_grants(session, user_id=user_id, chatbot_id=chatbot_id),
    )


def save_grants(
    session: Session, *, user_id: int, chatbot_id: str, grants: list[Mapping[str, Any]]
) -> list[TableGrantSpec]:
    """Replace the chatbot's grants (validated first; raises ChatbotError, nothing saved)."""
    _owned(session, user_id, chatbot_id)
    try:
        policy = permissions.save_grants(session, chatbot_id, grants)
    except GrantError as error:
        raise ChatbotError({"grants": str(error)}) from None
    return [policy.grants[name] for name in sorted(policy.grants)]


def grantable_tables(check: LinkCheck) -> list[str]:
    """The user's own tables a check discovered (HeHo's tables are not granted)."""
    if check.db_schema is None:
        return []
    return [t for t in check.db_schema.table_names() if t not in HEHO_TABLES]


# --------------------------------------------------------------------------- connection


def _clean_url(url: str) -> str:
    try:
        return normalise_url(url)
    except LinkError as error:
        raise ChatbotError({"supabase_url": error.message}) from None


def _clean_key(key: str) -> str:
    key = key.strip()
    if not key or any(c.isspace() for c in key) or not key.isascii() or len(key) > 4096:
        raise ChatbotError(
            {
                "supabase_key": "Paste the project's anon or service_role key (one line, "
                "no spaces), from Project Settings → API."
            }
        )
    return key


def set_connection(
    session: Session, *, user_id: int, chatbot_id: str, url: str, key: str | None
) -> ChatbotDetail:
    """Save the project URL and, when given, a new key (encrypted). An empty key keeps
    the stored one; there must be one."""
    chatbot = _owned(session, user_id, chatbot_id)
    errors: dict[str, str] = {}
    clean_url = clean_key = None
    try:
        clean_url = _clean_url(url)
    except ChatbotError as error:
        errors.update(error.fields)
    stored = find_credential(session, user_id=user_id, kind=SUPABASE, chatbot_id=chatbot.id)
    if key:
        try:
            clean_key = _clean_key(key)
        except ChatbotError as error:
            errors.update(error.fields)
    elif stored is None:
        errors["supabase_key"] = "Paste the project's key: none is saved yet."
    if errors:
        raise ChatbotError(errors)
    chatbot.supabase_url = clean_url
    chatbot.updated_at = utcnow()
    session.add(chatbot)
    if clean_key is not None:
        _store_credential(
            session, user_id=user_id, kind=SUPABASE, plaintext=clean_key, chatbot_id=chatbot.id
        )
    session.flush()
    return _detail(session, chatbot)


def remove_connection(session: Session, *, user_id: int, chatbot_id: str) -> ChatbotDetail:
    """Forget the project URL and delete the stored key; grants stay."""
    chatbot = _owned(session, user_id, chatbot_id)
    session.execute(
        delete(Credential).where(
            col(Credential.chatbot_id) == chatbot.id, col(Credential.kind) == SUPABASE
        )
    )
    chatbot.supabase_url = None
    chatbot.updated_at = utcnow()
    session.add(chatbot)
    session.flush()
    return _detail(session, chatbot)


def _inputs_for_test(
    session: Session, user_id: int, chatbot_id: str, url: str | None, key: str | None
) -> tuple[str, str]:
    """The URL and key to test: the typed ones, else the stored ones (revealed, logged)."""
    chatbot = _owned(session, user_id, chatbot_id)
    errors: dict[str, str] = {}
    clean_url = ""
    try:
        clean_url = _clean_url(url if url else chatbot.supabase_url or "")
    except ChatbotError as error:
        errors.update(error.fields)
    clean_key = ""
    if key:
        try:
            clean_key = _clean_key(key)
        except ChatbotError as error:
            errors.update(error.fields)
    else:
        stored = find_credential(session, user_id=user_id, kind=SUPABASE, chatbot_id=chatbot.id)
        if stored is None:
            errors["supabase_key"] = "Paste the project's key: none is saved yet."
        elif not errors:
            clean_key = reveal_credential(session, stored, purpose=TEST_PURPOSE)
    if errors:
        raise ChatbotError(errors)
    return clean_url, clean_key


async def test_connection(
    *, user_id: int, chatbot_id: str, url: str | None = None, key: str | None = None
) -> LinkCheck:
    """Check a connection end to end: the typed URL/key, or the stored ones.

    Nothing is saved. A stored key is decrypted for the check and the use is logged.
    Raises ChatbotNotFound, or ChatbotError for input that cannot be checked at all.
    """
    with session_scope() as session:
        clean_url, clean_key = _inputs_for_test(session, user_id, chatbot_id, url, key)
    return await check_connection(clean_url, clean_key)


@dataclass(frozen=True)
class ConnectResult:
    check: LinkCheck
    saved: bool
    detail: ChatbotDetail | None


async def connect_and_save(
    *, user_id: int, chatbot_id: str, url: str, key: str | None
) -> ConnectResult:
    """Test the URL and key (a new key, or the stored one) and save them only if the
    project answers with usable tables. A missing HeHo table does not stop saving."""
    with session_scope() as session:
        clean_url, clean_key = _inputs_for_test(session, user_id, chatbot_id, url or "", key)
    check = await check_connection(clean_url, clean_key)
    if not check.ok:
        return ConnectResult(check=check, saved=False, detail=None)
    with session_scope() as session:
        detail = set_connection(
            session, user_id=user_id, chatbot_id=chatbot_id, url=clean_url, key=key or None
        )
    return ConnectResult(check=check, saved=True, detail=detail)


def link_problem_field(check: LinkCheck) -> str:
    """Which connection field a failed check points at (for the message's place)."""
    if check.problem in (LinkProblem.malformed_key, LinkProblem.key_refused):
        return "supabase_key"
    if check.problem in (LinkProblem.malformed_url, LinkProblem.not_supabase):
        return "supabase_url"
    return "connection"
