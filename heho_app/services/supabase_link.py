"""Connect a chatbot to a user's Supabase project: check the link, discover tables.

The schema comes from PostgREST's OpenAPI description at `{url}/rest/v1/`; it is the
only source of table and column names the operations accept. Error messages name
the problem and never repeat the key.
"""

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from importlib import resources
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from heho_app.security import LOOPBACK_HOSTS
from heho_app.services.http_client import async_client, tls_problem

DEFAULT_TIMEOUT = 5.0
HEHO_TABLES = ("heho_conversations", "heho_messages", "heho_memories")
_PRIMARY_KEY = re.compile(r"<pk/>")
_FOREIGN_KEY = re.compile(r"<fk table='([^']+)' column='([^']+)'/>")


class LinkProblem(StrEnum):
    malformed_url = "malformed_url"
    malformed_key = "malformed_key"
    unreachable = "unreachable"
    not_supabase = "not_supabase"
    key_refused = "key_refused"
    table_access_denied = "table_access_denied"
    no_tables = "no_tables"


class LinkError(Exception):
    """The project cannot be used; `problem` says why, the message says what to do."""

    def __init__(self, problem: LinkProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


class ColumnInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    json_type: str
    pg_type: str
    required: bool = False
    primary_key: bool = False
    references: str | None = None
    has_default: bool = False


class TableInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    columns: dict[str, ColumnInfo]


class DatabaseSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    tables: dict[str, TableInfo]

    def table_names(self) -> list[str]:
        return sorted(self.tables)


class LinkCheck(BaseModel):
    """What `check_connection` found; `ok` only when nothing is wrong."""

    ok: bool
    problem: LinkProblem | None = None
    message: str
    db_schema: DatabaseSchema | None = None
    inaccessible_tables: list[str] = []
    missing_heho_tables: list[str] = []


def heho_tables_sql() -> str:
    """The SQL that creates HeHo's tables in the user's project (shown by the UI)."""
    return resources.files("heho_app").joinpath("sql/heho_tables.sql").read_text()


def normalise_url(url: str) -> str:
    """The project URL without trailing slash; raises LinkError when it is not one."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LinkError(
            LinkProblem.malformed_url,
            "The project URL must look like https://<project>.supabase.co.",
        )
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise LinkError(
            LinkProblem.malformed_url,
            "Give the project URL alone, without a path such as /rest/v1 "
            "(e.g. https://<project>.supabase.co).",
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise LinkError(
            LinkProblem.malformed_url,
            "The project URL must use https:// (plain http is only allowed for localhost).",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _check_key(key: str) -> None:
    if not key or any(char.isspace() for char in key) or not key.isascii():
        raise LinkError(
            LinkProblem.malformed_key,
            "The key is empty or contains spaces; paste the anon or service_role key "
            "from Project Settings → API.",
        )


def auth_headers(key: str) -> dict[str, str]:
    return {"apikey": key, "Authorization": f"Bearer {key}"}


def parse_openapi(document: dict) -> DatabaseSchema:
    """Tables (and views) with their columns, from PostgREST's OpenAPI 2.0 description."""
    paths = document.get("paths") or {}
    tables: dict[str, TableInfo] = {}
    for name, definition in (document.get("definitions") or {}).items():
        if f"/{name}" not in paths:
            continue
        required = set(definition.get("required") or [])
        columns: dict[str, ColumnInfo] = {}
        for column, spec in (definition.get("properties") or {}).items():
            description = spec.get("description") or ""
            foreign = _FOREIGN_KEY.search(description)
            columns[column] = ColumnInfo(
                name=column,
                json_type=spec.get("type") or "json",
                pg_type=spec.get("format") or "",
                required=column in required,
                primary_key=bool(_PRIMARY_KEY.search(description)),
                references=f"{foreign.group(1)}.{foreign.group(2)}" if foreign else None,
                has_default="default" in spec,
            )
        tables[name] = TableInfo(name=name, columns=columns)
    return DatabaseSchema(tables=tables)


@asynccontextmanager
async def _http_client(
    client: httpx.AsyncClient | None, timeout: float
) -> AsyncIterator[httpx.AsyncClient]:
    """The caller's httpx client, or a short-lived one of our own."""
    if client is not None:
        yield client
        return
    async with async_client(timeout) as own:
        yield own


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code == 401:
        raise LinkError(
            LinkProblem.key_refused,
            "The project refused the key (401). Check that it is this project's anon "
            "or service_role key and that it has not been rotated.",
        )
    if response.status_code == 404:
        raise LinkError(
            LinkProblem.not_supabase,
            "No Supabase REST API answers at this URL (/rest/v1/ was not found).",
        )
    if response.status_code >= 400:
        raise LinkError(
            LinkProblem.unreachable,
            f"The project's REST API answered with HTTP {response.status_code}.",
        )


async def discover_schema(
    url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT, client: httpx.AsyncClient | None = None
) -> DatabaseSchema:
    """Tables and columns the key can see; raises LinkError when that is impossible."""
    base = normalise_url(url)
    _check_key(key)
    async with _http_client(client, timeout) as http:
        try:
            response = await http.get(f"{base}/rest/v1/", headers=auth_headers(key))
        except httpx.TimeoutException as error:
            raise LinkError(
                LinkProblem.unreachable, f"The project did not answer within {timeout:g} s."
            ) from error
        except httpx.HTTPError as error:
            host = urlsplit(base).hostname
            problem = tls_problem(error)
            raise LinkError(
                LinkProblem.unreachable,
                f"Could not connect securely to {host}: {problem}."
                if problem
                else f"Could not reach {host} ({type(error).__name__}).",
            ) from error
    _raise_for_status(response)
    try:
        document = response.json()
    except ValueError as error:
        raise LinkError(
            LinkProblem.not_supabase, "The URL answered, but not with Supabase's REST API."
        ) from error
    if not isinstance(document, dict) or "paths" not in document:
        raise LinkError(
            LinkProblem.not_supabase, "The URL answered, but not with Supabase's REST API."
        )
    return parse_openapi(document)


_remembered: dict[tuple[str, str], tuple[float, DatabaseSchema]] = {}


async def remembered_schema(url: str, key: str, *, max_age: float) -> DatabaseSchema:
    """`discover_schema`, reusing this process's answer for the same project and key
    while it is younger than `max_age` seconds.

    For the REST API, which opens the chatbot anew for every request: PostgREST takes
    tens of milliseconds to describe a project. Only table and column names are kept
    (the grants are read afresh every time); the key is kept only as a hash.
    """
    entry = (normalise_url(url), hashlib.sha256(key.encode()).hexdigest())
    now = time.monotonic()
    cached = _remembered.get(entry)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    schema = await discover_schema(url, key)
    for stale in [k for k, (at, _) in _remembered.items() if now - at >= max_age]:
        del _remembered[stale]
    _remembered[entry] = (now, schema)
    return schema


def missing_heho_tables(schema: DatabaseSchema) -> list[str]:
    """Which of HeHo's own tables the project lacks (run `heho_tables_sql()` to add them)."""
    return [name for name in HEHO_TABLES if name not in schema.tables]


async def _table_readable(http: httpx.AsyncClient, base: str, key: str, table: str) -> bool:
    response = await http.get(
        f"{base}/rest/v1/{table}", params={"select": "*", "limit": "0"}, headers=auth_headers(key)
    )
    return response.status_code < 400


async def check_connection(url: str, key: str, *, timeout: float = DEFAULT_TIMEOUT) -> LinkCheck:
    """Check URL and key end to end and say exactly what is wrong, if anything."""
    try:
        base = normalise_url(url)
        async with async_client(timeout) as http:
            schema = await discover_schema(base, key, timeout=timeout, client=http)
            user_tables = [t for t in schema.table_names() if t not in HEHO_TABLES]
            if not user_tables:
                raise LinkError(
                    LinkProblem.no_tables,
                    "The key sees no tables in the public schema. Create a table, or use "
                    "a key that has access to your tables.",
                )
            readable = await asyncio.gather(
                *(_table_readable(http, base, key, table) for table in schema.table_names())
            )
    except LinkError as error:
        return LinkCheck(ok=False, problem=error.problem, message=error.message)
    except httpx.HTTPError as error:
        return LinkCheck(
            ok=False,
            problem=LinkProblem.unreachable,
            message=f"The connection broke while checking tables ({type(error).__name__}).",
        )
    denied = [t for t, ok in zip(schema.table_names(), readable, strict=True) if not ok]
    missing = missing_heho_tables(schema)
    if denied:
        return LinkCheck(
            ok=False,
            problem=LinkProblem.table_access_denied,
            message="The key cannot read these tables: " + ", ".join(denied) + ".",
            db_schema=schema,
            inaccessible_tables=denied,
            missing_heho_tables=missing,
        )
    message = f"Connected: {len(user_tables)} table(s) found."
    if missing:
        message += " HeHo's tables are missing: " + ", ".join(missing) + " (run the SQL shown)."
    return LinkCheck(ok=True, message=message, db_schema=schema, missing_heho_tables=missing)
