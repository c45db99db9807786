"""The gate against a real local Supabase: grants, names, values, caps, failures, audit."""

import asyncio
import json

import pytest

from heho_app.services.operations import ToolContext, run_tool
from tests.ops_helpers import audit_events, last_completion, snapshot

ALL_BUT = {
    "read": {"insert": True, "update": True, "delete": True, "confirm_delete": True, "read": False},
    "insert": {"update": True, "delete": True, "confirm_delete": True},
    "update": {"insert": True, "delete": True, "confirm_delete": True},
    "delete": {"insert": True, "update": True},
}
ONLY = {
    "read": {},
    "insert": {"read": False, "insert": True},
    "update": {"read": False, "update": True},
    "delete": {"read": False, "delete": True, "confirm_delete": True},
}
CALLS = {
    "read": ("select_rows", {"table": "customers", "limit": 3}),
    "insert": (
        "insert_rows",
        {"table": "customers", "rows": [{"name": "New Person", "email": "new@example.com"}]},
    ),
    "update": (
        "update_rows",
        {
            "table": "customers",
            "values": {"city": "Paris"},
            "filters": [{"column": "id", "op": "eq", "value": 1}],
        },
    ),
    "delete": (
        "delete_rows",
        {"table": "customers", "filters": [{"column": "id", "op": "eq", "value": 6}]},
    ),
}


def eq(column: str, value: object) -> list[dict]:
    return [{"column": column, "op": "eq", "value": value}]


@pytest.mark.parametrize("operation", list(CALLS))
async def test_tool_allowed_by_its_grant(operation, tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "customers", **ONLY[operation]}])
    tool, args = CALLS[operation]
    result = await run_tool(ctx, tool, args)
    assert result.ok, result.reason
    assert result.count == (3 if operation == "read" else 1)
    rows = dict(
        (row[0], row[1:])
        for row in supabase_stack.execute("select id, name, city from public.customers")
    )
    if operation == "insert":
        assert ("New Person", None) in rows.values()
    if operation == "update":
        assert rows[1] == ("Ada Lovelace", "Paris")
    if operation == "delete":
        assert 6 not in rows
    done = last_completion(heho_user.id)
    assert (done.outcome, done.tool, done.table_name) == ("ok", tool, "customers")


@pytest.mark.parametrize("operation", list(CALLS))
async def test_tool_denied_without_its_grant(operation, tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "customers", **ALL_BUT[operation]}])
    before = snapshot(supabase_stack)
    tool, args = CALLS[operation]
    result = await run_tool(ctx, tool, args)
    assert (result.ok, result.outcome, result.error_code) == (False, "denied", "not_granted")
    assert f"may not {operation} rows of 'customers'" in result.reason
    assert snapshot(supabase_stack) == before
    assert last_completion(heho_user.id).outcome == "denied"


async def test_defaults_read_only(tool_context, supabase_stack):
    ctx = await tool_context([{"table": "customers"}])
    before = snapshot(supabase_stack)
    assert (await run_tool(ctx, *CALLS["read"])).ok
    for operation in ("insert", "update", "delete"):
        result = await run_tool(ctx, *CALLS[operation])
        assert result.outcome == "denied", operation
    assert snapshot(supabase_stack) == before


async def test_table_without_grant_is_denied_and_unlisted(tool_context, supabase_stack):
    ctx = await tool_context([{"table": "customers"}])
    listed = await run_tool(ctx, "list_tables", {})
    assert [t["table"] for t in listed.data] == ["customers"]
    assert listed.data[0]["operations"] == ["read"]
    for tool, args in [
        ("select_rows", {"table": "orders"}),
        ("describe_table", {"table": "orders"}),
    ]:
        result = await run_tool(ctx, tool, args)
        assert (result.outcome, result.error_code) == ("denied", "unknown_table")


async def test_describe_table_names_columns_and_keys(tool_context):
    ctx = await tool_context([{"table": "orders"}])
    result = await run_tool(ctx, "describe_table", {"table": "orders"})
    columns = {c["name"]: c for c in result.data["columns"]}
    assert columns["id"]["primary_key"] is True
    assert columns["customer_id"]["references"] == "customers.id"
    assert columns["status"]["type"] == "text"


async def test_delete_needs_confirmed_grant(make_chatbot):
    from heho_app.services.permissions import GrantError

    with pytest.raises(GrantError, match="explicit opt-in"):
        make_chatbot([{"table": "customers", "delete": True}])


# --- names: exact match, no PostgREST syntax -----------------------------------------

BAD_TABLES = [
    "public.orders",
    "Orders",
    "orders ",
    "orders\n",
    "orders?select=*",
    "orders;drop table orders",
    "orders,customers",
    "orders&id=gt.0",
    "heho_memories",
    ["orders"],
    None,
]


@pytest.mark.parametrize("table", BAD_TABLES, ids=repr)
async def test_table_name_must_match_exactly(table, tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "orders", "update": True}])
    before = snapshot(supabase_stack)
    result = await run_tool(ctx, "select_rows", {"table": table})
    assert (result.outcome, result.error_code) == ("denied", "unknown_table")
    result = await run_tool(
        ctx, "update_rows", {"table": table, "values": {"status": "x"}, "filters": eq("id", 1)}
    )
    assert result.outcome == "denied"
    assert snapshot(supabase_stack) == before
    assert [e.outcome for e in audit_events(heho_user.id)][-4:] == [
        "pending",
        "denied",
        "pending",
        "denied",
    ]


BAD_COLUMNS = ["Status", "orders.status", "status,id", "*", "or", "status)", "id;drop", 1]


@pytest.mark.parametrize("column", BAD_COLUMNS, ids=repr)
async def test_column_names_must_match_exactly(column, tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "orders", "update": True}])
    before = snapshot(supabase_stack)
    for tool, args in [
        ("select_rows", {"table": "orders", "columns": [column]}),
        ("select_rows", {"table": "orders", "filters": eq(column, "new")}),
        ("select_rows", {"table": "orders", "order": column}),
        ("update_rows", {"table": "orders", "values": {column: "x"}, "filters": eq("id", 1)}),
        ("update_rows", {"table": "orders", "values": {"status": "x"}, "filters": eq(column, 1)}),
    ]:
        result = await run_tool(ctx, tool, args)
        assert result.outcome == "denied", args
        assert result.error_code in {"unknown_column", "malformed_arguments"}, args
    assert snapshot(supabase_stack) == before
    assert last_completion(heho_user.id).outcome == "denied"


# --- values: parameters, never syntax --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "matches"),
    [("1);drop table customers;--", 0), ("*", 0), ("a,b", 1), ("or(id.gt.0)", 0), ('"a,b"', 0)],
)
async def test_text_values_match_literally(value, matches, tool_context, supabase_stack):
    ctx = await tool_context([{"table": "customers"}])
    result = await run_tool(
        ctx, "select_rows", {"table": "customers", "filters": eq("name", value)}
    )
    assert result.ok and result.count == matches
    if matches:
        assert result.rows[0]["name"] == value
    assert supabase_stack.execute("select count(*) from public.customers") == [(6,)]


@pytest.mark.parametrize("value", ["a,b", "or(id.gt.0)", "*", "1);drop table customers;--"])
async def test_update_with_hostile_value_never_widens(value, tool_context, supabase_stack):
    ctx = await tool_context([{"table": "customers", "update": True}])
    result = await run_tool(
        ctx,
        "update_rows",
        {"table": "customers", "values": {"city": "Hacked"}, "filters": eq("email", value)},
    )
    assert result.ok and result.count == 0
    assert supabase_stack.execute("select count(*) from customers where city = 'Hacked'") == [(0,)]


async def test_delete_with_star_value_deletes_nothing(tool_context, supabase_stack):
    ctx = await tool_context([{"table": "orders", "delete": True, "confirm_delete": True}])
    before = snapshot(supabase_stack)
    result = await run_tool(ctx, "delete_rows", {"table": "orders", "filters": eq("status", "*")})
    assert result.ok and result.count == 0
    assert snapshot(supabase_stack) == before


async def test_in_values_are_quoted_each(tool_context):
    ctx = await tool_context([{"table": "customers"}])
    filters = [{"column": "name", "op": "in", "value": ["a,b", "x) or (1=1", "Ada Lovelace"]}]
    result = await run_tool(ctx, "select_rows", {"table": "customers", "filters": filters})
    assert sorted(r["name"] for r in result.rows) == ["Ada Lovelace", "a,b"]


@pytest.mark.parametrize(
    ("column", "op", "value"),
    [
        ("id", "eq", "1);drop table customers;--"),
        ("id", "eq", "1 or 1=1"),
        ("id", "eq", "1\n"),
        ("id", "in", ["1", "2) or (true"]),
        ("id", "eq", [1, 2]),
        ("id", "eq", {"gt": 0}),
        ("id", "eq", None),
        ("name", "is", "not.null"),
        ("name", "is", 1),
        ("name", "like", "*"),
        ("name", "ilike", "A*"),
        ("id", "like", "1%"),
        ("name", "in", []),
        ("name", "in", "a,b"),
        ("name", "or", "(id.gt.0)"),
        ("name", "not.eq", "x"),
    ],
    ids=repr,
)
async def test_malformed_filter_is_refused(
    column, op, value, tool_context, supabase_stack, heho_user
):
    ctx = await tool_context([{"table": "customers", "update": True}])
    before = snapshot(supabase_stack)
    filters = [{"column": column, "op": op, "value": value}]
    result = await run_tool(ctx, "select_rows", {"table": "customers", "filters": filters})
    assert result.outcome == "denied"
    assert result.error_code in {"invalid_value", "invalid_op"}
    result = await run_tool(
        ctx, "update_rows", {"table": "customers", "values": {"city": "X"}, "filters": filters}
    )
    assert result.outcome == "denied"
    assert snapshot(supabase_stack) == before
    assert last_completion(heho_user.id).outcome == "denied"


async def test_is_null_and_like_work(tool_context):
    ctx = await tool_context([{"table": "customers"}])
    result = await run_tool(
        ctx,
        "select_rows",
        {"table": "customers", "filters": [{"column": "city", "op": "is", "value": None}]},
    )
    assert result.ok and result.count == 0
    result = await run_tool(
        ctx,
        "select_rows",
        {"table": "customers", "filters": [{"column": "name", "op": "ilike", "value": "%turing"}]},
    )
    assert [r["name"] for r in result.rows] == ["Alan Turing"]


async def test_extra_filter_keys_are_refused(tool_context):
    ctx = await tool_context([{"table": "customers"}])
    filters = [{"column": "id", "op": "eq", "value": 1, "or": "id.gt.0"}]
    result = await run_tool(ctx, "select_rows", {"table": "customers", "filters": filters})
    assert (result.outcome, result.error_code) == ("denied", "malformed_arguments")


# --- filters required, row cap, limits -------------------------------------------------


@pytest.mark.parametrize("filters", [[], None, "id=1"], ids=repr)
async def test_update_and_delete_need_filters(filters, tool_context, supabase_stack):
    grant = {"table": "orders", "update": True, "delete": True, "confirm_delete": True}
    ctx = await tool_context([grant])
    before = snapshot(supabase_stack)
    update = await run_tool(
        ctx, "update_rows", {"table": "orders", "values": {"status": "x"}, "filters": filters}
    )
    delete = await run_tool(ctx, "delete_rows", {"table": "orders", "filters": filters})
    assert update.outcome == delete.outcome == "denied"
    missing = await run_tool(ctx, "delete_rows", {"table": "orders"})
    assert (missing.outcome, missing.error_code) == ("denied", "malformed_arguments")
    assert snapshot(supabase_stack) == before


@pytest.mark.parametrize("tool", ["update_rows", "delete_rows"])
async def test_row_cap_refuses_and_changes_nothing(tool, tool_context, supabase_stack, heho_user):
    grant = {"table": "orders", "update": True, "delete": True, "confirm_delete": True}
    ctx = await tool_context([grant], row_cap=5)
    before = snapshot(supabase_stack)
    args = {"table": "orders", "filters": eq("status", "new")}
    if tool == "update_rows":
        args["values"] = {"status": "cancelled"}
    result = await run_tool(ctx, tool, args)
    assert (result.outcome, result.error_code) == ("denied", "row_cap_exceeded")
    assert "20 rows" in result.reason and "cap of 5" in result.reason
    assert snapshot(supabase_stack) == before
    assert last_completion(heho_user.id).outcome == "denied"


async def test_row_cap_counts_every_write_of_the_turn(tool_context, supabase_stack, heho_user):
    grant = {"table": "orders", "update": True, "delete": True, "confirm_delete": True}
    ctx = await tool_context([grant, {"table": "customers", "insert": True}], row_cap=5)
    first = await run_tool(
        ctx, "update_rows", {"table": "orders", "values": {"status": "x"}, "filters": eq("id", 1)}
    )
    inserted = await run_tool(
        ctx, "insert_rows", {"table": "customers", "rows": [{"name": "A"}, {"name": "B"}]}
    )
    assert first.count == 1 and inserted.count == 2
    before = snapshot(supabase_stack)

    three_more = await run_tool(
        ctx,
        "delete_rows",
        {"table": "orders", "filters": [{"column": "id", "op": "in", "value": [2, 3, 4]}]},
    )

    assert (three_more.outcome, three_more.error_code) == ("denied", "row_cap_exceeded")
    assert "3 already changed in this turn" in three_more.reason
    assert snapshot(supabase_stack) == before
    assert last_completion(heho_user.id).outcome == "denied"
    two_more = await run_tool(
        ctx,
        "delete_rows",
        {"table": "orders", "filters": [{"column": "id", "op": "in", "value": [2, 3]}]},
    )
    assert two_more.ok and two_more.count == 2
    fresh = await tool_context([grant], row_cap=5)  # the next turn starts afresh
    assert (await run_tool(fresh, "delete_rows", {"table": "orders", "filters": eq("id", 5)})).ok


async def test_row_cap_default_allows_up_to_100(tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "orders", "update": True}])
    result = await run_tool(
        ctx,
        "update_rows",
        {"table": "orders", "values": {"status": "archived"}, "filters": eq("status", "new")},
    )
    assert result.ok and result.count == 20
    assert supabase_stack.execute("select count(*) from orders where status = 'archived'") == [
        (20,)
    ]
    assert last_completion(heho_user.id).rows_affected == 20


async def test_insert_over_row_cap_is_refused(tool_context, supabase_stack):
    ctx = await tool_context([{"table": "customers", "insert": True}], row_cap=2)
    rows = [{"name": f"P{i}"} for i in range(3)]
    result = await run_tool(ctx, "insert_rows", {"table": "customers", "rows": rows})
    assert result.error_code == "row_cap_exceeded"
    assert supabase_stack.execute("select count(*) from customers") == [(6,)]


async def test_select_limit_default_and_maximum(tool_context):
    ctx = await tool_context([{"table": "orders"}])
    assert (await run_tool(ctx, "select_rows", {"table": "orders"})).count == 50
    assert (await run_tool(ctx, "select_rows", {"table": "orders", "limit": 1000})).count == 60
    for limit in (1001, 0, -1, "10", 2.5, True):
        result = await run_tool(ctx, "select_rows", {"table": "orders", "limit": limit})
        assert result.outcome == "denied", limit


async def test_select_columns_and_order(tool_context):
    ctx = await tool_context([{"table": "products"}])
    result = await run_tool(
        ctx,
        "select_rows",
        {"table": "products", "columns": ["name", "price"], "order": "price.desc", "limit": 2},
    )
    assert result.rows == [{"name": "Monitor", "price": 219.0}, {"name": "Keyboard", "price": 49.9}]


# --- malformed calls -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "arguments", "code"),
    [
        ("drop_table", {"table": "orders"}, "unknown_tool"),
        ("select_rows", "not json", "malformed_arguments"),
        ("select_rows", ["orders"], "malformed_arguments"),
        ("select_rows", {"table": "orders", "where": "1=1"}, "malformed_arguments"),
        ("insert_rows", {"table": "orders", "rows": {"status": "x"}}, "malformed_arguments"),
    ],
    ids=repr,
)
async def test_malformed_call_is_a_refusal(tool, arguments, code, tool_context, heho_user):
    ctx = await tool_context([{"table": "orders", "insert": True}])
    result = await run_tool(ctx, tool, arguments)
    assert (result.ok, result.outcome, result.error_code) == (False, "denied", code)
    assert json.loads(result.for_model())["reason"]
    assert last_completion(heho_user.id).outcome == "denied"


async def test_arguments_as_json_string(tool_context):
    ctx = await tool_context([{"table": "orders"}])
    result = await run_tool(ctx, "select_rows", '{"table": "orders", "limit": 1}')
    assert result.ok and result.count == 1


# --- the database's own refusals and outages --------------------------------------------


async def test_anon_key_under_rls_is_a_clear_result(tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "notes", "insert": True}], key=supabase_stack.anon_key)
    result = await run_tool(ctx, "select_rows", {"table": "notes"})
    assert result.ok and result.rows == []
    result = await run_tool(ctx, "insert_rows", {"table": "notes", "rows": [{"body": "hi"}]})
    assert (result.ok, result.outcome, result.error_code) == (
        False,
        "failed",
        "db_permission_denied",
    )
    assert "row level security" in result.reason
    assert last_completion(heho_user.id).error_code == "db_permission_denied"
    assert supabase_stack.execute("select count(*) from notes") == [(1,)]


async def test_constraint_violation_is_a_clear_result(tool_context):
    ctx = await tool_context([{"table": "orders", "insert": True}])
    rows = [{"customer_id": 999, "product_id": 1}]
    result = await run_tool(ctx, "insert_rows", {"table": "orders", "rows": rows})
    assert (result.outcome, result.error_code) == ("failed", "foreign_key_violation")


async def test_postgrest_down_fails_clearly_and_is_audited(tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "orders"}])
    supabase_stack.stop_postgrest()
    try:
        result = await run_tool(ctx, "select_rows", {"table": "orders"})
    finally:
        supabase_stack.start_postgrest()
    assert (result.ok, result.outcome, result.error_code) == (False, "failed", "unreachable")
    assert "unreachable" in result.reason
    done = last_completion(heho_user.id)
    assert (done.outcome, done.error_code) == ("failed", "unreachable")
    assert (await run_tool(ctx, "select_rows", {"table": "orders"})).ok


async def test_unreachable_project_fails_clearly(tool_context, supabase_stack, heho_user):
    ctx = await tool_context([{"table": "orders"}])
    ctx.supabase_url = "http://127.0.0.1:9"
    result = await run_tool(ctx, "select_rows", {"table": "orders"})
    assert (result.outcome, result.error_code) == ("failed", "unreachable")
    assert supabase_stack.service_key not in result.model_dump_json()
    assert supabase_stack.service_key not in repr(ctx)


# --- memory --------------------------------------------------------------------------------


async def test_remember_and_recall(tool_context, supabase_stack):
    ctx = await tool_context([])
    assert (await run_tool(ctx, "remember", {"content": "Prefers invoices as 100% PDF"})).ok
    assert (await run_tool(ctx, "remember", {"content": "Ships on Fridays"})).ok
    recalled = await run_tool(ctx, "recall", {"query": "100%"})
    assert [r["content"] for r in recalled.rows] == ["Prefers invoices as 100% PDF"]
    everything = await run_tool(ctx, "recall", {})
    assert everything.count == 2
    rows = supabase_stack.execute("select chatbot_id from heho_memories")
    assert rows == [(ctx.chatbot.id,), (ctx.chatbot.id,)]


async def test_memory_disabled_is_denied(tool_context, supabase_stack):
    ctx = await tool_context([], memory_enabled=False)
    for tool, args in [("remember", {"content": "x"}), ("recall", {})]:
        result = await run_tool(ctx, tool, args)
        assert (result.outcome, result.error_code) == ("denied", "memory_disabled")
    assert supabase_stack.execute("select count(*) from heho_memories") == [(0,)]


async def test_memories_are_per_chatbot(tool_context):
    first, second = await tool_context([]), await tool_context([])
    await run_tool(first, "remember", {"content": "first bot's secret"})
    assert (await run_tool(second, "recall", {})).rows == []


# --- audit content ------------------------------------------------------------------------


async def test_filter_values_are_redacted_unless_enabled(tool_context, heho_user):
    quiet = await tool_context([{"table": "customers"}])
    await run_tool(quiet, "select_rows", {"table": "customers", "filters": eq("email", "ada@x")})
    logged = json.loads(last_completion(heho_user.id).filters)
    assert logged == [{"column": "email", "op": "eq", "value": "[redacted]"}]

    loud = await tool_context([{"table": "customers"}], log_filter_values=True)
    await run_tool(loud, "select_rows", {"table": "customers", "filters": eq("email", "ada@x")})
    logged = json.loads(last_completion(heho_user.id).filters)
    assert logged == [{"column": "email", "op": "eq", "value": "ada@x"}]


async def test_every_call_writes_pending_then_completion(tool_context, heho_user):
    ctx = await tool_context([{"table": "orders"}])
    await run_tool(ctx, "select_rows", {"table": "orders", "limit": 2})
    await run_tool(ctx, "delete_rows", {"table": "orders", "filters": eq("id", 1)})
    events = audit_events(heho_user.id)
    assert [(e.seq, e.outcome) for e in events] == [
        (1, "pending"),
        (2, "ok"),
        (3, "pending"),
        (4, "denied"),
    ]
    assert events[1].completes_id == events[0].id and events[3].completes_id == events[2].id
    assert all(e.chatbot_id == ctx.chatbot.id for e in events)
    assert all(e.conversation_id == "conversation-1" for e in events)
    assert events[1].duration_ms is not None and events[1].duration_ms > 0
    assert events[3].detail.startswith("this chatbot may not delete")


async def test_context_never_shows_the_key(tool_context, supabase_stack):
    ctx: ToolContext = await tool_context([{"table": "orders"}])
    assert supabase_stack.service_key not in repr(ctx)


async def test_rejected_value_is_not_echoed_into_the_audit(tool_context, heho_user):
    ctx = await tool_context([{"table": "orders", "insert": True}])
    rows = [{"customer_id": 1, "product_id": 1, "quantity": "secret-abc"}]
    result = await run_tool(ctx, "insert_rows", {"table": "orders", "rows": rows})
    assert (result.outcome, result.error_code) == ("failed", "invalid_value")
    assert "integer" in result.reason and "secret-abc" not in result.reason
    result = await run_tool(
        ctx, "select_rows", {"table": "orders", "filters": eq("created_at", "secret-day")}
    )
    assert (result.outcome, result.error_code) == ("failed", "invalid_value")
    assert all("secret" not in (e.detail or "") for e in audit_events(heho_user.id))


async def test_no_audit_log_means_nothing_is_done(tool_context, supabase_stack):
    from sqlalchemy import text

    from heho_app.db import get_engine

    ctx = await tool_context([{"table": "customers", "insert": True}])
    before = snapshot(supabase_stack)
    with get_engine().begin() as conn:
        conn.execute(text("alter table audit_events rename to audit_events_away"))
    try:
        result = await run_tool(
            ctx, "insert_rows", {"table": "customers", "rows": [{"name": "Unaudited"}]}
        )
    finally:
        with get_engine().begin() as conn:
            conn.execute(text("alter table audit_events_away rename to audit_events"))
    assert (result.outcome, result.error_code) == ("failed", "audit_unavailable")
    assert snapshot(supabase_stack) == before


async def test_concurrent_updates_all_land(tool_context, supabase_stack):
    """Counting with HEAD before each write broke about one write in 150 under
    concurrency: PostgREST closes the connection after a HEAD without saying so, the
    proxy in front hands that dead connection to the next request, and a PATCH is not
    retried (502). Counting is a GET now."""
    ctx = await tool_context([{"table": "products", "update": True}], row_cap=1000)

    async def update_many(worker: int) -> list[str]:
        outcomes = []
        for turn in range(80):
            result = await run_tool(
                ctx,
                "update_rows",
                {"table": "products", "values": {"stock": turn}, "filters": eq("id", worker)},
            )
            outcomes.append(result.outcome if result.ok else f"{result.outcome}: {result.reason}")
        return outcomes

    results = await asyncio.gather(*(update_many(worker) for worker in range(1, 6)))
    assert [o for outcomes in results for o in outcomes if o != "ok"] == []
