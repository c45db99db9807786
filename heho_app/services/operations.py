"""The chatbot's tools: permission-gated reads and writes on the user's Supabase, audited.

`run_tool(ctx, name, arguments)` is the one entry point for the agent and the API.
It never raises: every outcome is a `ToolResult` (rows, count, or a refusal with its
reason). Before anything runs, a `pending` audit event is written; the completing
event follows. Names must match the discovered schema exactly; values only ever
travel as PostgREST parameters built by postgrest-py, so they match literally or
fail but never widen a query.
"""

import asyncio
import json
import logging
import re
import time
from collections.abc import Set
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from pydantic import BaseModel
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from heho_app.models import Chatbot
from heho_app.services import audit
from heho_app.services.http_client import async_client
from heho_app.services.permissions import Operation, Policy
from heho_app.services.supabase_link import (
    HEHO_TABLES,
    DatabaseSchema,
    TableInfo,
    discover_schema,
    normalise_url,
    remembered_schema,
)

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_FILTERS = 20
MAX_IN_VALUES = 1000
MAX_VALUE_LENGTH = 10_000
MAX_MEMORY_LENGTH = 4000
REQUEST_TIMEOUT = 10.0
FILTER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")  # used with fullmatch
# Column names PostgREST reads as query syntax rather than as a column.
RESERVED_NAMES = {"select", "order", "limit", "offset", "or", "and", "not", "on_conflict"}
INTEGER = re.compile(r"-?[0-9]{1,19}")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_QUOTED = re.compile(r'"[^"]*"')
UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
TOOL_OPERATION = {
    "list_tables": None,
    "describe_table": None,
    "select_rows": Operation.read,
    "insert_rows": Operation.insert,
    "update_rows": Operation.update,
    "delete_rows": Operation.delete,
    "remember": None,
    "recall": None,
}

Scalar = str | int | float | bool


class ToolResult(BaseModel):
    """What a tool call produced; `for_model()` is what the language model sees."""

    ok: bool
    outcome: Literal["ok", "denied", "failed"]
    tool: str
    table: str | None = None
    rows: list[dict[str, Any]] | None = None
    count: int | None = None
    data: Any = None
    reason: str | None = None
    error_code: str | None = None
    audit_id: int | None = None

    def for_model(self) -> str:
        return self.model_dump_json(exclude_none=True, exclude={"audit_id"})


class Refusal(Exception):
    """The call is not allowed or malformed: nothing is sent to the database."""

    def __init__(self, reason: str, code: str = "denied") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class Failure(Exception):
    """The call was allowed but the project could not carry it out."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class ChatbotLimits:
    """The chatbot settings the gate needs."""

    id: str
    row_cap: int = 100
    memory_enabled: bool = True
    log_filter_values: bool = False

    @classmethod
    def of(cls, chatbot: Chatbot) -> "ChatbotLimits":
        return cls(
            id=chatbot.id,
            row_cap=chatbot.row_cap,
            memory_enabled=chatbot.memory_enabled,
            log_filter_values=chatbot.log_filter_values,
        )


@dataclass
class ToolContext:
    """Everything one chatbot's tool calls need; build one per chat turn or API request.

    The decrypted key lives only here (never in repr or logs); call `aclose()` when done.
    """

    user_id: int
    chatbot: ChatbotLimits
    supabase_url: str
    supabase_key: str = field(repr=False)
    policy: Policy
    db_schema: DatabaseSchema
    conversation_id: str | None = None
    rows_changed: int = 0
    """Rows inserted, updated or deleted through this context; the row cap counts them all."""
    _client: AsyncClient | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)

    async def client(self) -> AsyncClient:
        """supabase-py's client for this project, created on first use; no retries."""
        if self._client is None:
            self._http = async_client(REQUEST_TIMEOUT, follow_redirects=True)
            self._client = await acreate_client(
                self.supabase_url,
                self.supabase_key,
                options=AsyncClientOptions(httpx_client=self._http, postgrest_client_retry=False),
            )
        return self._client

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._client = self._http = None


async def run_tool(ctx: ToolContext, name: str, arguments: object) -> ToolResult:
    """Run one tool call through the gate; always returns a result, never raises.

    `arguments` is the decoded JSON object of the call (a JSON string is accepted too).
    """
    started = time.perf_counter()
    tool = name if isinstance(name, str) else repr(name)
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            arguments = None
    args = arguments if isinstance(arguments, dict) else None
    table = args.get("table") if args is not None else None
    operation = TOOL_OPERATION.get(tool)
    try:
        pending = await asyncio.to_thread(
            audit.start_event,
            user_id=ctx.user_id,
            chatbot_id=ctx.chatbot.id,
            conversation_id=ctx.conversation_id,
            tool=tool,
            table_name=table if isinstance(table, str) else None,
            operation=operation.value if operation else None,
            filters=audit.summarize_filters(
                args.get("filters") if args else None, log_values=ctx.chatbot.log_filter_values
            ),
        )
    except audit.AuditUnavailable as error:
        logger.error("audit log unavailable, tool call %s not run: %s", tool[:40], error)
        return ToolResult(
            ok=False,
            outcome="failed",
            tool=tool,
            reason="The audit log is unavailable, so nothing was done.",
            error_code="audit_unavailable",
        )
    result = await _dispatch(ctx, tool, args, table)
    try:
        result.audit_id = await asyncio.to_thread(
            audit.finish_event,
            pending,
            outcome=result.outcome,
            rows_affected=result.count if tool in _WRITE_TOOLS else None,
            duration_ms=(time.perf_counter() - started) * 1000,
            error_code=result.error_code,
            detail=result.reason,
        )
    except Exception as error:
        logger.error("could not complete audit event %s: %s", pending.id, type(error).__name__)
    return result


_WRITE_TOOLS = {"insert_rows", "update_rows", "delete_rows", "remember"}


async def _dispatch(ctx: ToolContext, tool: str, args: dict | None, table: object) -> ToolResult:
    handler = _HANDLERS.get(tool)
    table_name = table if isinstance(table, str) else None
    try:
        if handler is None:
            raise Refusal(f"unknown tool {tool[:40]!r}", "unknown_tool")
        if args is None:
            raise Refusal("arguments must be a JSON object", "malformed_arguments")
        return await handler(ctx, args)
    except Refusal as refusal:
        return ToolResult(
            ok=False,
            outcome="denied",
            tool=tool,
            table=table_name,
            reason=refusal.reason,
            error_code=refusal.code,
        )
    except Failure as failure:
        return ToolResult(
            ok=False,
            outcome="failed",
            tool=tool,
            table=table_name,
            reason=failure.reason,
            error_code=failure.code,
        )
    except httpx.TimeoutException:
        return _failed(tool, table_name, "The database did not answer in time.", "timeout")
    except httpx.HTTPError:
        return _failed(tool, table_name, "The database could not be reached.", "unreachable")
    except APIError as error:
        reason, code = _api_error(error)
        return _failed(tool, table_name, reason, code)
    except Exception as error:
        logger.error("tool %s failed unexpectedly: %s", tool, type(error).__name__)
        return _failed(tool, table_name, "The operation failed unexpectedly.", "internal_error")


def _failed(tool: str, table: str | None, reason: str, code: str) -> ToolResult:
    return ToolResult(
        ok=False, outcome="failed", tool=tool, table=table, reason=reason, error_code=code
    )


def _api_error(error: APIError) -> tuple[str, str]:
    """A short, secret-free explanation of what PostgREST/PostgreSQL refused."""
    code = str(error.code or "")
    if code in {"502", "503", "504"}:
        return "The database API is unreachable (HTTP " + code + ").", "unreachable"
    if code == "42501":
        return (
            "The database refused: permission denied (row level security or a missing "
            "privilege for this key).",
            "db_permission_denied",
        )
    if code.startswith("PGRST3") or code == "401":
        return "The project refused the key.", "key_refused"
    if code == "23505":
        return "A row with the same unique value already exists.", "unique_violation"
    if code == "23503":
        return "A referenced row does not exist (foreign key).", "foreign_key_violation"
    if code == "23502":
        return "A required column is missing a value.", "not_null_violation"
    if code.startswith("22"):
        # PostgreSQL quotes the offending value: keep the kind of problem, drop the value.
        message = _QUOTED.sub('"…"', str(error.message))[:300]
        return "The database rejected a value: " + message, "invalid_value"
    return "The database refused the request (" + (code or "unknown") + ").", "db_error"


# --- validation: names, values, arguments -------------------------------------------


def _expect_keys(args: dict, allowed: Set[str], required: Set[str] = frozenset()) -> None:
    unknown = sorted(str(k)[:40] for k in args if k not in allowed)
    if unknown:
        raise Refusal("unknown argument(s): " + ", ".join(unknown), "malformed_arguments")
    missing = sorted(required - set(args))
    if missing:
        raise Refusal("missing argument(s): " + ", ".join(missing), "malformed_arguments")


def _table(ctx: ToolContext, args: dict, operation: Operation | None) -> TableInfo:
    """The granted table named exactly; other spellings are refused, never normalised."""
    name = args.get("table")
    shown = str(name)[:63]
    if (
        not isinstance(name, str)
        or not SAFE_NAME.fullmatch(name)
        or name in HEHO_TABLES
        or name not in ctx.db_schema.tables
        or name not in ctx.policy.grants
    ):
        raise Refusal(
            f"no table named {shown!r} is available to this chatbot "
            "(names must match list_tables exactly)",
            "unknown_table",
        )
    if operation is None:
        if not ctx.policy.grants[name].operations():
            raise Refusal(f"this chatbot has no access to {name!r}", "not_granted")
    else:
        decision = ctx.policy.decide(name, operation)
        if not decision.allowed:
            raise Refusal(decision.reason, "not_granted")
    return ctx.db_schema.tables[name]


def table_usable(ctx: ToolContext, arguments: dict, operation: Operation) -> bool:
    """Whether the gate would let `operation` touch the table named in `arguments`
    (names and grants only; the rest of the call is checked when it runs)."""
    try:
        _table(ctx, arguments, operation)
    except Refusal:
        return False
    return True


def _column(table: TableInfo, name: object) -> str:
    if (
        not isinstance(name, str)
        or not SAFE_NAME.fullmatch(name)
        or name in RESERVED_NAMES
        or name not in table.columns
    ):
        raise Refusal(
            f"table {table.name!r} has no column named {str(name)[:63]!r}", "unknown_column"
        )
    return name


def _scalar(table: TableInfo, column: str, value: object) -> Scalar:
    """A filter value checked against the column's type; no lists, objects or nulls."""
    if value is None:
        raise Refusal(f"use op 'is' to compare {column!r} with null", "invalid_value")
    if not isinstance(value, str | int | float | bool):
        raise Refusal(f"the filter value for {column!r} must be a single value", "invalid_value")
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        raise Refusal(f"the filter value for {column!r} is too long", "invalid_value")
    kind = table.columns[column].json_type
    text = str(value).lower() if isinstance(value, bool) else str(value)
    valid = {
        "integer": not isinstance(value, bool | float) and INTEGER.fullmatch(text) is not None,
        "number": not isinstance(value, bool) and NUMBER.fullmatch(text) is not None,
        "boolean": text in ("true", "false"),
    }.get(kind, True)
    if table.columns[column].pg_type == "uuid":
        valid = isinstance(value, str) and UUID.fullmatch(value) is not None
    if not valid:
        raise Refusal(
            f"the filter value for {column!r} is not a valid {table.columns[column].pg_type}",
            "invalid_value",
        )
    return value


def _filters(table: TableInfo, filters: object, *, required: bool) -> list[tuple[str, str, Any]]:
    if filters is None:
        filters = []
    if not isinstance(filters, list):
        raise Refusal("filters must be a list of {column, op, value}", "malformed_arguments")
    if required and not filters:
        raise Refusal("this operation needs at least one filter", "filters_required")
    if len(filters) > MAX_FILTERS:
        raise Refusal(f"at most {MAX_FILTERS} filters are allowed", "malformed_arguments")
    checked = []
    for item in filters:
        if not isinstance(item, dict) or set(item) != {"column", "op", "value"}:
            raise Refusal("each filter must be exactly {column, op, value}", "malformed_arguments")
        column = _column(table, item["column"])
        op, value = item["op"], item["value"]
        if op not in FILTER_OPS:
            raise Refusal(
                f"unknown filter op {str(op)[:20]!r} (use one of {', '.join(FILTER_OPS)})",
                "invalid_op",
            )
        if op == "is":
            if value is None or isinstance(value, bool):
                value = {None: "null", True: "true", False: "false"}[value]
            elif value not in ("null", "true", "false"):
                raise Refusal("op 'is' takes only null, true or false", "invalid_value")
        elif op == "in":
            if not isinstance(value, list) or not value or len(value) > MAX_IN_VALUES:
                raise Refusal(
                    f"op 'in' takes a non-empty list of at most {MAX_IN_VALUES} values",
                    "invalid_value",
                )
            value = [_scalar(table, column, element) for element in value]
        elif op in ("like", "ilike"):
            if not isinstance(value, str) or table.columns[column].json_type != "string":
                raise Refusal(f"op {op!r} takes a text pattern on a text column", "invalid_value")
            if "*" in value:
                raise Refusal(
                    "'*' is not allowed in patterns; use % for any characters", "invalid_value"
                )
            value = _scalar(table, column, value)
        else:
            value = _scalar(table, column, value)
        checked.append((column, op, value))
    return checked


def _apply_filters(query: Any, filters: list[tuple[str, str, Any]]) -> Any:
    """Add filters with postgrest-py's builders, which send values as query parameters."""
    for column, op, value in filters:
        if op == "in":
            query = query.in_(column, value)
        elif op == "is":
            query = query.is_(column, value)
        else:
            query = getattr(query, op)(column, value)
    return query


def _order(table: TableInfo, order: object) -> list[tuple[str, bool]]:
    """`"col"`, `"col.desc"`, `{"column", "desc"}`, or a list of those (at most 5)."""
    if order is None:
        return []
    items = order if isinstance(order, list) else [order]
    if len(items) > 5:
        raise Refusal("order takes at most 5 columns", "malformed_arguments")
    result = []
    for item in items:
        if isinstance(item, str):
            column, _, direction = item.partition(".")
            if direction not in ("", "asc", "desc"):
                raise Refusal("order direction must be asc or desc", "malformed_arguments")
            result.append((_column(table, column), direction == "desc"))
        elif isinstance(item, dict) and set(item) <= {"column", "desc"} and "column" in item:
            desc = item.get("desc", False)
            if not isinstance(desc, bool):
                raise Refusal("order 'desc' must be true or false", "malformed_arguments")
            result.append((_column(table, item["column"]), desc))
        else:
            raise Refusal("order must be a column name or {column, desc}", "malformed_arguments")
    return result


def _int_argument(args: dict, name: str, default: int, maximum: int) -> int:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise Refusal(f"{name} must be a whole number from 1 to {maximum}", "malformed_arguments")
    return value


def _row_values(table: TableInfo, values: object, what: str) -> dict[str, Any]:
    if not isinstance(values, dict) or not values:
        raise Refusal(f"{what} must be a non-empty object of column: value", "malformed_arguments")
    return {_column(table, column): value for column, value in values.items()}


# --- the tools -------------------------------------------------------------------------


async def _list_tables(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, set())
    tables = [
        {
            "table": name,
            "operations": operations,
            "columns": list(ctx.db_schema.tables[name].columns),
        }
        for name, operations in ctx.policy.granted_tables().items()
        if name in ctx.db_schema.tables and name not in HEHO_TABLES
    ]
    return ToolResult(ok=True, outcome="ok", tool="list_tables", data=tables, count=len(tables))


async def _describe_table(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"table"}, {"table"})
    table = _table(ctx, args, None)
    columns = [
        {
            "name": column.name,
            "type": column.pg_type,
            "required": column.required,
            "primary_key": column.primary_key,
            "references": column.references,
            "has_default": column.has_default,
        }
        for column in table.columns.values()
    ]
    return ToolResult(
        ok=True,
        outcome="ok",
        tool="describe_table",
        table=table.name,
        data={"columns": columns, "operations": ctx.policy.grants[table.name].operations()},
    )


async def _select_rows(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"table", "columns", "filters", "order", "limit"}, {"table"})
    table = _table(ctx, args, Operation.read)
    columns = args.get("columns")
    if columns is None:
        selected = "*"
    elif isinstance(columns, list) and columns and len(set(map(str, columns))) == len(columns):
        selected = ",".join(_column(table, column) for column in columns)
    else:
        raise Refusal(
            "columns must be a non-empty list of distinct column names", "malformed_arguments"
        )
    filters = _filters(table, args.get("filters"), required=False)
    order = _order(table, args.get("order"))
    limit = _int_argument(args, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    query = _apply_filters((await ctx.client()).table(table.name).select(selected), filters)
    for column, desc in order:
        query = query.order(column, desc=desc)
    response = await query.limit(limit).execute()
    rows = response.data or []
    return ToolResult(
        ok=True, outcome="ok", tool="select_rows", table=table.name, rows=rows, count=len(rows)
    )


async def _insert_rows(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"table", "rows"}, {"table", "rows"})
    table = _table(ctx, args, Operation.insert)
    rows = args["rows"]
    if not isinstance(rows, list) or not rows:
        raise Refusal("rows must be a non-empty list of objects", "malformed_arguments")
    _check_row_cap(ctx, len(rows), "insert", table.name)
    checked = [_row_values(table, row, "each row") for row in rows]
    response = await (await ctx.client()).table(table.name).insert(checked).execute()
    inserted = response.data or []
    ctx.rows_changed += len(inserted)
    return ToolResult(
        ok=True,
        outcome="ok",
        tool="insert_rows",
        table=table.name,
        rows=inserted,
        count=len(inserted),
    )


def _check_row_cap(ctx: ToolContext, count: int, verb: str, table_name: str) -> None:
    """Refuse a write that would take the rows changed through `ctx` (one turn or one
    API request) past the chatbot's cap: several small writes add up."""
    if ctx.rows_changed + count <= ctx.chatbot.row_cap:
        return
    earlier = (
        f" after the {ctx.rows_changed} already changed in this turn" if ctx.rows_changed else ""
    )
    raise Refusal(
        f"this would {verb} {count} rows of {table_name!r}{earlier}, more than this chatbot's "
        f"cap of {ctx.chatbot.row_cap}; nothing was changed. Narrow the filters.",
        "row_cap_exceeded",
    )


async def _count_within_cap(
    ctx: ToolContext, table: TableInfo, filters: list[tuple[str, str, Any]], verb: str
) -> int:
    """Count the rows the filters match; refuse when they would exceed the cap.

    A GET for no rows, not a HEAD: PostgREST (warp before 3.4.12) closes the
    connection after answering a HEAD without saying so, and a proxy in front
    (Supabase's Kong, nginx) may hand that dead connection to the write that
    follows, which it does not retry: a sporadic 502."""
    query = (await ctx.client()).table(table.name).select("*", count=CountMethod.exact)
    response = await _apply_filters(query, filters).limit(0).execute()
    count = response.count or 0
    _check_row_cap(ctx, count, verb, table.name)
    return count


async def _update_rows(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"table", "values", "filters"}, {"table", "values", "filters"})
    table = _table(ctx, args, Operation.update)
    values = _row_values(table, args["values"], "values")
    filters = _filters(table, args["filters"], required=True)
    if await _count_within_cap(ctx, table, filters, "update") == 0:
        return ToolResult(
            ok=True, outcome="ok", tool="update_rows", table=table.name, rows=[], count=0
        )
    query = (await ctx.client()).table(table.name).update(values, count=CountMethod.exact)
    response = await _apply_filters(query, filters).execute()
    rows = response.data or []
    count = response.count if response.count is not None else len(rows)
    ctx.rows_changed += count
    return ToolResult(
        ok=True, outcome="ok", tool="update_rows", table=table.name, rows=rows, count=count
    )


async def _delete_rows(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"table", "filters"}, {"table", "filters"})
    table = _table(ctx, args, Operation.delete)
    filters = _filters(table, args["filters"], required=True)
    if await _count_within_cap(ctx, table, filters, "delete") == 0:
        return ToolResult(ok=True, outcome="ok", tool="delete_rows", table=table.name, count=0)
    query = (await ctx.client()).table(table.name).delete(count=CountMethod.exact)
    response = await _apply_filters(query, filters).execute()
    count = response.count if response.count is not None else len(response.data or [])
    ctx.rows_changed += count
    return ToolResult(ok=True, outcome="ok", tool="delete_rows", table=table.name, count=count)


def _memory_table(ctx: ToolContext) -> str:
    if not ctx.chatbot.memory_enabled:
        raise Refusal("memory is turned off for this chatbot", "memory_disabled")
    if "heho_memories" not in ctx.db_schema.tables:
        raise Failure(
            "The project has no heho_memories table; run HeHo's SQL in the project first.",
            "heho_tables_missing",
        )
    return "heho_memories"


async def _remember(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"content"}, {"content"})
    table = _memory_table(ctx)
    content = args["content"]
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_MEMORY_LENGTH:
        raise Refusal(
            f"content must be text of 1 to {MAX_MEMORY_LENGTH} characters", "malformed_arguments"
        )
    row = {"chatbot_id": ctx.chatbot.id, "content": content.strip()}
    response = await (await ctx.client()).table(table).insert(row).execute()
    saved = [{"id": r["id"], "created_at": r["created_at"]} for r in response.data or []]
    return ToolResult(ok=True, outcome="ok", tool="remember", rows=saved, count=len(saved))


def _like_literal(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (`*` cannot be escaped: dropped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped.replace("*", "") + "%"


async def _recall(ctx: ToolContext, args: dict) -> ToolResult:
    _expect_keys(args, {"query", "limit"})
    table = _memory_table(ctx)
    query_text = args.get("query")
    if query_text is not None and (not isinstance(query_text, str) or len(query_text) > 200):
        raise Refusal("query must be text of at most 200 characters", "malformed_arguments")
    limit = _int_argument(args, "limit", 10, 50)
    query = (
        (await ctx.client())
        .table(table)
        .select("content,created_at")
        .eq("chatbot_id", ctx.chatbot.id)
    )
    if query_text and query_text.strip():
        query = query.ilike("content", _like_literal(query_text.strip()))
    response = await query.order("created_at", desc=True).limit(limit).execute()
    rows = response.data or []
    return ToolResult(ok=True, outcome="ok", tool="recall", rows=rows, count=len(rows))


async def open_tool_context(
    *,
    user_id: int,
    chatbot: Chatbot | ChatbotLimits,
    supabase_url: str,
    supabase_key: str,
    policy: Policy,
    conversation_id: str | None = None,
    schema_max_age: float = 0,
) -> ToolContext:
    """Discover the project's schema (or reuse one younger than `schema_max_age`
    seconds) and build the context; raises LinkError if it cannot."""
    db_schema = (
        await remembered_schema(supabase_url, supabase_key, max_age=schema_max_age)
        if schema_max_age > 0
        else await discover_schema(supabase_url, supabase_key)
    )
    return ToolContext(
        user_id=user_id,
        chatbot=chatbot if isinstance(chatbot, ChatbotLimits) else ChatbotLimits.of(chatbot),
        supabase_url=normalise_url(supabase_url),
        supabase_key=supabase_key,
        policy=policy,
        db_schema=db_schema,
        conversation_id=conversation_id,
    )


_HANDLERS = {
    "list_tables": _list_tables,
    "describe_table": _describe_table,
    "select_rows": _select_rows,
    "insert_rows": _insert_rows,
    "update_rows": _update_rows,
    "delete_rows": _delete_rows,
    "remember": _remember,
    "recall": _recall,
}


# --- tool definitions for the language model -------------------------------------------

_FILTERS_SCHEMA = {
    "type": "array",
    "description": "Conditions, all of which must hold.",
    "items": {
        "type": "object",
        "properties": {
            "column": {"type": "string"},
            "op": {"type": "string", "enum": list(FILTER_OPS)},
            "value": {
                "description": "A single value; a list for 'in'; null/true/false for 'is'. "
                "For like/ilike use % as wildcard."
            },
        },
        "required": ["column", "op", "value"],
        "additionalProperties": False,
    },
}


def _function(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


def tool_definitions(*, memory_enabled: bool) -> list[dict]:
    """OpenAI-style function definitions of the tools, for the chat completion request."""
    table = {"type": "string", "description": "Exact table name from list_tables."}
    tools = [
        _function("list_tables", "List the tables you may use and what you may do.", {}, []),
        _function("describe_table", "Columns and types of a table.", {"table": table}, ["table"]),
        _function(
            "select_rows",
            f"Read rows (at most {MAX_LIMIT}, default {DEFAULT_LIMIT}).",
            {
                "table": table,
                "columns": {"type": "array", "items": {"type": "string"}},
                "filters": _FILTERS_SCHEMA,
                "order": {
                    "description": "'column', 'column.desc', or a list of those.",
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                },
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            ["table"],
        ),
        _function(
            "insert_rows",
            "Insert rows (objects of column: value).",
            {"table": table, "rows": {"type": "array", "items": {"type": "object"}}},
            ["table", "rows"],
        ),
        _function(
            "update_rows",
            "Set values on the rows matching the filters.",
            {"table": table, "values": {"type": "object"}, "filters": _FILTERS_SCHEMA},
            ["table", "values", "filters"],
        ),
        _function(
            "delete_rows",
            "Delete the rows matching the filters.",
            {"table": table, "filters": _FILTERS_SCHEMA},
            ["table", "filters"],
        ),
    ]
    if memory_enabled:
        tools += [
            _function(
                "remember",
                "Save a short fact to remember in later conversations.",
                {"content": {"type": "string"}},
                ["content"],
            ),
            _function(
                "recall",
                "Find saved memories, newest first.",
                {
                    "query": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                [],
            ),
        ]
    return tools
