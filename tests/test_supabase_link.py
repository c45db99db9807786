"""Connecting to a project: each problem is named, tables and columns are discovered."""

import socket
import time

import pytest

from heho_app.devtools.processes import free_port
from heho_app.devtools.supabase_stack import mint_key
from heho_app.services.supabase_link import (
    LinkProblem,
    check_connection,
    heho_tables_sql,
    missing_heho_tables,
    remembered_schema,
)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://example.supabase.co",
        "http://example.supabase.co",
        "https://example.supabase.co/rest/v1",
        "https://user:pw@example.supabase.co",
        "https://",
    ],
)
async def test_malformed_url(url, supabase_stack):
    check = await check_connection(url, supabase_stack.service_key)
    assert (check.ok, check.problem) == (False, LinkProblem.malformed_url)
    assert check.message


async def test_malformed_key(supabase_stack):
    check = await check_connection(supabase_stack.url, "  two words ")
    assert check.problem == LinkProblem.malformed_key


async def test_connection_refused_is_unreachable(supabase_stack):
    check = await check_connection(f"http://127.0.0.1:{free_port()}", supabase_stack.service_key)
    assert check.problem == LinkProblem.unreachable
    assert "127.0.0.1" in check.message
    assert supabase_stack.service_key not in check.message


async def test_silent_host_times_out_in_seconds(supabase_stack):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        check = await check_connection(url, supabase_stack.service_key, timeout=1.0)
    assert check.problem == LinkProblem.unreachable
    assert "did not answer within 1 s" in check.message
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("key_kind", ["garbage", "other_secret"])
async def test_key_refused(key_kind, supabase_stack):
    key = "abc.def.ghi" if key_kind == "garbage" else mint_key("x" * 40, "service_role")
    check = await check_connection(supabase_stack.url, key)
    assert check.problem == LinkProblem.key_refused
    assert "401" in check.message


async def test_not_a_supabase_url(supabase_stack):
    admin = f"http://127.0.0.1:{supabase_stack.admin_port}"
    check = await check_connection(admin, supabase_stack.service_key)
    assert check.problem == LinkProblem.not_supabase


async def test_service_key_discovers_tables_and_columns(supabase_stack):
    check = await check_connection(supabase_stack.url, supabase_stack.service_key)
    assert check.ok, check.message
    schema = check.db_schema
    assert set(schema.tables) >= {"customers", "products", "orders", "notes"}
    orders = schema.tables["orders"].columns
    assert list(orders) == ["id", "customer_id", "product_id", "quantity", "status", "created_at"]
    assert orders["id"].primary_key and orders["id"].json_type == "integer"
    assert orders["product_id"].references == "products.id"
    assert orders["created_at"].pg_type == "timestamp with time zone"
    assert check.missing_heho_tables == []


async def test_key_without_access_to_a_table(supabase_stack):
    supabase_stack.execute("revoke select on public.products from anon")
    try:
        check = await check_connection(supabase_stack.url, supabase_stack.anon_key)
    finally:
        supabase_stack.execute("grant select on public.products to anon")
    assert check.problem == LinkProblem.table_access_denied
    assert check.inaccessible_tables == ["products"]
    assert "products" in check.message


async def test_no_tables(supabase_stack):
    supabase_stack.execute(
        "do $$ begin create role nothing_role nologin; exception when duplicate_object "
        "then null; end $$; grant nothing_role to authenticator"
    )
    check = await check_connection(
        supabase_stack.url, mint_key(supabase_stack.jwt_secret, "nothing_role")
    )
    assert check.problem == LinkProblem.no_tables


async def test_missing_heho_tables_are_named(supabase_stack):
    supabase_stack.execute("drop table public.heho_messages; drop table public.heho_memories")
    supabase_stack.reload_schema(expect_table="heho_memories", present=False)
    try:
        check = await check_connection(supabase_stack.url, supabase_stack.service_key)
        assert check.ok
        assert check.missing_heho_tables == ["heho_messages", "heho_memories"]
        assert missing_heho_tables(check.db_schema) == ["heho_messages", "heho_memories"]
        assert "heho_messages, heho_memories" in check.message
    finally:
        supabase_stack.execute(heho_tables_sql())
        supabase_stack.reload_schema(expect_table="heho_memories", present=True)
    check = await check_connection(supabase_stack.url, supabase_stack.service_key)
    assert check.missing_heho_tables == []


def test_heho_tables_sql_runs_twice(supabase_stack):
    supabase_stack.execute(heho_tables_sql())
    names = supabase_stack.execute(
        "select tablename, rowsecurity from pg_tables where tablename like 'heho_%' order by 1"
    )
    assert names == [("heho_conversations", True), ("heho_memories", True), ("heho_messages", True)]


async def test_a_remembered_schema_is_reused_only_while_fresh(supabase_stack):
    url, key = supabase_stack.url, supabase_stack.service_key
    first = await remembered_schema(url, key, max_age=60)
    assert "orders" in first.tables
    assert await remembered_schema(url + "/", key, max_age=60) is first
    assert await remembered_schema(url, supabase_stack.user_key(), max_age=60) is not first
    assert await remembered_schema(url, key, max_age=0.001) is not first
