"""Request and response bodies of the REST API.

Request models forbid unknown fields. Response models list exactly what may leave
HeHo: no key hashes, no ciphertexts, no third-party keys.
"""

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from heho_app.models import AuditEvent
from heho_app.services.api_keys import NewApiKey
from heho_app.services.chatbot_config import ROW_CAP_MAX, ChatbotDetail, Theme, Tone
from heho_app.services.permissions import TableGrantSpec

TABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
MODEL_ID_PATTERN = r"^\S+$"
CHATBOT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
SUPABASE_URL_PATTERN = r"^https?://[^\s/?#]+(/\S*)?$"
Outcome = Literal["pending", "ok", "denied", "failed"]


def _storable(value: str) -> str:
    """Text every database can store: no NUL, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode") from None
    return value


def text(*, min_length: int = 0, max_length: int, description: str | None = None) -> Any:
    """A string type with length limits that a database can store."""
    return Annotated[
        str,
        Field(min_length=min_length, max_length=max_length, description=description),
        AfterValidator(_storable),
    ]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """An omitted field of a PATCH body means "unchanged", not null: say so in the spec."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None and "anyOf" not in prop:
            prop.pop("default")


class RequestModel(BaseModel):
    """A JSON body: unknown fields are errors, and so are `0` for false or `"1"` for 1."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --- errors -------------------------------------------------------------------


class ErrorDetail(BaseModel):
    loc: list[str | int]
    message: str
    type: str


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_api_key"])
    message: str
    details: list[ErrorDetail] | None = Field(
        default=None, description="Only on 422: every part of the request that is wrong."
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


# --- meta and account ---------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class UserProfile(BaseModel):
    id: int
    email: str
    created_at: datetime
    verified: bool


class RotatedKey(BaseModel):
    """The new key: `key` is shown only in this response; store it now."""

    id: int
    name: str
    prefix: str
    key: str
    rate_limit_per_minute: int
    created_at: datetime

    @classmethod
    def of(cls, new: NewApiKey) -> "RotatedKey":
        info = new.info
        return cls(
            id=info.id,
            name=info.name,
            prefix=info.prefix,
            key=new.plaintext,
            rate_limit_per_minute=info.rate_limit_per_minute,
            created_at=info.created_at,
        )


# --- chatbots -----------------------------------------------------------------


class GrantSchema(RequestModel):
    """What the chatbot may do on one table: read is on by default, writes are off.

    Delete needs `confirm_delete: true` beside it, the same opt-in the settings page asks for.
    """

    table: Annotated[str, Field(pattern=TABLE_NAME_PATTERN, examples=["orders"])]
    read: bool = True
    insert: bool = False
    update: bool = False
    delete: bool = False
    confirm_delete: bool = False


def _one_per_table(grants: list[GrantSchema]) -> list[GrantSchema]:
    tables = [grant.table for grant in grants]
    if len(set(tables)) != len(tables):
        raise ValueError("each table may be granted only once")
    return grants


Grants = Annotated[list[GrantSchema], Field(max_length=500), AfterValidator(_one_per_table)]
Name = text(min_length=1, max_length=120)
Goal = text(max_length=2000)
Description = text(max_length=20000, description="The chatbot's instructions.")
ModelId = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=MODEL_ID_PATTERN, examples=["openai/gpt-4o"]),
    AfterValidator(_storable),
]
Temperature = Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)]
RowCap = Annotated[int, Field(ge=1, le=ROW_CAP_MAX)]
SupabaseUrl = Annotated[
    str,
    Field(max_length=500, pattern=SUPABASE_URL_PATTERN, examples=["https://abc.supabase.co"]),
    AfterValidator(_storable),
]


SupabaseKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="The project's key; stored encrypted, never returned (only its last four).",
    ),
    AfterValidator(_storable),
]


class ChatbotCreate(RequestModel):
    name: Name
    goal: Goal = ""
    description: Description = ""
    model: ModelId = "openai/gpt-4o-mini"
    tone: Tone = "friendly"
    theme: Theme = "twilight"
    temperature: Temperature = 0.7
    memory_enabled: bool = True
    approve_writes: bool = False
    row_cap: RowCap = 100
    log_filter_values: bool = False
    supabase_url: SupabaseUrl | None = None
    supabase_key: SupabaseKey | None = None
    grants: Grants = []


class ChatbotUpdate(RequestModel):
    """Only the fields sent change; `grants`, when sent, replaces every grant."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_drop_null_defaults)

    name: Name = None  # type: ignore[assignment]
    goal: Goal = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    model: ModelId = None  # type: ignore[assignment]
    tone: Tone = None  # type: ignore[assignment]
    theme: Theme = None  # type: ignore[assignment]
    temperature: Temperature = None  # type: ignore[assignment]
    memory_enabled: bool = None  # type: ignore[assignment]
    approve_writes: bool = None  # type: ignore[assignment]
    row_cap: RowCap = None  # type: ignore[assignment]
    log_filter_values: bool = None  # type: ignore[assignment]
    supabase_url: SupabaseUrl | None = Field(default=None, description="null disconnects.")
    supabase_key: SupabaseKey = None  # type: ignore[assignment]
    grants: Grants = None  # type: ignore[assignment]


class GrantOut(BaseModel):
    table: str
    read: bool
    insert: bool
    update: bool
    delete: bool


class ChatbotOut(BaseModel):
    id: str
    name: str
    goal: str
    description: str
    model: str
    tone: str
    theme: str
    temperature: float
    memory_enabled: bool
    approve_writes: bool
    row_cap: int
    log_filter_values: bool
    supabase_url: str | None
    supabase_key_last4: str | None
    connected: bool
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None
    grants: list[GrantOut]

    @classmethod
    def of(cls, chatbot: ChatbotDetail, grants: list[TableGrantSpec]) -> "ChatbotOut":
        return cls(
            id=chatbot.id,
            **chatbot.settings.model_dump(),
            supabase_url=chatbot.supabase_url,
            supabase_key_last4=chatbot.key_last4,
            connected=chatbot.connected,
            created_at=chatbot.created_at,
            updated_at=chatbot.updated_at,
            last_used_at=chatbot.last_used_at,
            grants=[GrantOut(**grant.model_dump(exclude={"confirm_delete"})) for grant in grants],
        )


class ChatbotList(BaseModel):
    data: list[ChatbotOut]


# --- audit --------------------------------------------------------------------


ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    """A date-time as the spec says (ISO 8601), not a Unix timestamp that happens to parse."""
    if isinstance(value, str) and not ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with a time zone")
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_utc)]


class AuditQuery(BaseModel):
    """Query parameters arrive as text, so they are converted; unknown ones are errors."""

    model_config = ConfigDict(extra="forbid")

    chatbot_id: Annotated[str, Field(pattern=CHATBOT_ID_PATTERN)] | None = None
    table: text(min_length=1, max_length=200) | None = None  # type: ignore[valid-type]
    outcome: Outcome | None = None
    since: UtcDatetime | None = Field(default=None, description="Events at or after (ISO 8601).")
    until: UtcDatetime | None = Field(default=None, description="Events before (ISO 8601).")
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class AuditEventOut(BaseModel):
    """One audited step; `filters` are as recorded (values masked unless the chatbot logs them)."""

    id: int
    seq: int
    chatbot_id: str | None
    conversation_id: str | None
    completes_id: int | None
    tool: str
    table: str | None
    operation: str | None
    filters: Any
    rows_affected: int | None
    outcome: str
    duration_ms: float | None
    error_code: str | None
    detail: str | None
    created_at: datetime
    prev_hash: str
    row_hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventOut":
        try:
            filters = json.loads(event.filters)
        except ValueError:
            filters = event.filters
        data = event.model_dump(exclude={"user_id", "table_name", "filters"})
        return cls(**data, table=event.table_name, filters=filters)


class AuditPage(BaseModel):
    data: list[AuditEventOut]
    limit: int
    offset: int
    has_more: bool


# --- chat -----------------------------------------------------------------------
# `POST /api/v1/chat` speaks HeHo's own shape; `POST /api/v1/chat/completions`
# speaks OpenAI's (model = chatbot id), so that any OpenAI SDK can call a chatbot.
# The chatbot runs its own tools: clients send no tools and get no tool calls.


def _ends_with_user(roles: list[str]) -> None:
    """The turn answers the last message, so it must be the user's."""
    spoken = [role for role in roles if role in ("user", "assistant")]
    if not spoken or spoken[-1] != "user":
        raise ValueError("the last message with text (system messages aside) must be the user's")


class ChatMessage(RequestModel):
    role: Literal["user", "assistant"]
    content: text(min_length=1, max_length=100_000)  # type: ignore[valid-type]


class ChatRequest(RequestModel):
    """`messages[-1]` is the user's message to answer; `history` then the earlier
    `messages` are the conversation so far. Nothing is stored in your project."""

    chatbot_id: Annotated[str, Field(pattern=CHATBOT_ID_PATTERN)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=100)]
    history: Annotated[list[ChatMessage], Field(max_length=500)] = []
    stream: bool = Field(default=False, description="true: answer as server-sent events.")

    @model_validator(mode="after")
    def _last_is_user(self) -> Self:
        _ends_with_user([message.role for message in self.messages])
        return self


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ToolActivityOut(BaseModel):
    """One tool call the chatbot made inside HeHo: what, on which table, and how it went.
    Rows never appear here; the answer says what the chatbot chose to tell."""

    name: str = Field(examples=["select_rows"])
    table: str = Field(examples=["orders"])
    outcome: Literal["ok", "denied", "failed"]
    count: int | None = Field(description="Rows read or changed, when the call ran.")
    reason: str = Field(description="Why the call was refused or failed; empty when ok.")


class ChatErrorOut(BaseModel):
    code: str = Field(examples=["upstream_key_refused"])
    message: str


class ChatReply(BaseModel):
    """The answer to one turn; a turn that failed says so in `status` and `error`
    and keeps what was done before (partial text, tool calls that ran)."""

    chatbot_id: str
    status: Literal["complete", "failed", "interrupted"]
    content: str
    finish_reason: Literal["stop", "length", "content_filter"] | None = Field(
        default=None,
        description="Why a complete answer ended: `stop`, `length` (cut off at "
        "`max_tokens` or the model's limit) or `content_filter`; null when it failed.",
    )
    tool_calls: list[ToolActivityOut]
    usage: ChatUsage | None = None
    error: ChatErrorOut | None = None


class OpenAIErrorBody(BaseModel):
    message: str
    type: str = Field(examples=["invalid_request_error"])
    param: str | None
    code: str | None


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error shape, which its SDKs turn into exceptions."""

    error: OpenAIErrorBody


class OpenAITextPart(RequestModel):
    type: Literal["text"]
    text: text(max_length=100_000)  # type: ignore[valid-type]


class OpenAIMessage(RequestModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: text(max_length=100_000) | list[OpenAITextPart] | None = None  # type: ignore[valid-type]
    name: Annotated[str, Field(max_length=64)] | None = None

    @property
    def plain_text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class OpenAIStreamOptions(RequestModel):
    include_usage: bool = False


class ChatCompletionRequest(RequestModel):
    """The part of OpenAI's chat completion request that a HeHo chatbot honours.

    System and developer messages are appended to HeHo's own system prompt as the
    caller's instructions (they cannot widen the chatbot's grants); the last
    user message is answered, the earlier user and assistant messages are its history.
    `temperature` (else the chatbot's own), `top_p`, `max_tokens`, `stop`, `seed` and
    `user` are passed to the model for every step of the turn.
    """

    model: Annotated[str, Field(pattern=CHATBOT_ID_PATTERN, description="The chatbot's id.")]
    messages: Annotated[list[OpenAIMessage], Field(min_length=1, max_length=500)]
    stream: bool = False
    stream_options: OpenAIStreamOptions | None = None
    temperature: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Literal[1] | None = None
    seed: int | None = None
    user: Annotated[str, Field(max_length=256)] | None = None

    @model_validator(mode="after")
    def _last_is_user(self) -> Self:
        _ends_with_user([message.role for message in self.messages if message.plain_text])
        return self


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop", "length", "content_filter"] | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: ChatUsage | None = None


class CompletionDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class CompletionChunkChoice(BaseModel):
    index: int = 0
    delta: CompletionDelta
    finish_reason: Literal["stop", "length", "content_filter"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` event of a streamed completion; the last may carry only `usage`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[CompletionChunkChoice]
    usage: ChatUsage | None = None
