"""Property-based attacks on the gate: for any generated tool call, `run_tool` either
runs it within the chatbot's grant or refuses it; it never raises, and nothing outside
the grant ever changes in the user's database (dumped before and after every call)."""

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heho_app.db import session_scope
from heho_app.services.operations import (
    FILTER_OPS,
    MAX_LIMIT,
    TOOL_OPERATION,
    ChatbotLimits,
    ToolContext,
    ToolResult,
    run_tool,
)
from heho_app.services.permissions import load_policy
from heho_app.services.supabase_link import discover_schema, normalise_url
from tests.adversarial.helpers import HEHO_TABLES, SAMPLE_TABLES

EXAMPLES = 200
ALL_TABLES = SAMPLE_TABLES + HEHO_TABLES
COLUMNS = sorted(
    {"id", "name", "email", "city", "created_at", "price", "stock", "customer_id",
     "product_id", "quantity", "status", "owner", "body", "chatbot_id", "content"}
)  # fmt: skip
HOSTILE = ["*", "select", "id;drop", "a,b", "or", "orders(*)", "id.gt.0", "1);drop table x;--",
           "or(id.gt.0)", "%", "not.is.null", "Orders", "public.orders", "orders ", "auth.users",
           "orders?select=*", "orders,customers", ""]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.integers(0, 70),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["new", "paid", "shipped", "Ada Lovelace", "London", *HOSTILE]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
names = st.one_of(st.sampled_from(COLUMNS), st.sampled_from(HOSTILE), st.text(max_size=12))
tables = st.one_of(st.sampled_from(ALL_TABLES), st.sampled_from(HOSTILE), st.text(max_size=20))
ops = st.one_of(st.sampled_from(FILTER_OPS), st.text(max_size=8))
filters = st.one_of(
    st.lists(
        st.one_of(st.fixed_dictionaries({"column": names, "op": ops, "value": values}), values),
        max_size=3,
    ),
    values,
)
rows = st.dictionaries(names, values, max_size=4)
arguments = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "table": tables,
            "columns": st.one_of(st.lists(names, max_size=3), values),
            "filters": filters,
            "order": st.one_of(names, st.lists(names, max_size=2), values),
            "limit": st.one_of(st.integers(-5, MAX_LIMIT + 5), values),
            "rows": st.one_of(st.lists(rows, max_size=3), values),
            "values": st.one_of(rows, values),
            "content": values,
            "query": values,
            "where": values,
        },
    ),
    values,
    st.text(max_size=40),
)
# Calls aimed at the sample tables with their real columns, so that allowed writes
# really run (and must still stay within the grant and the cap).
plausible_values = st.one_of(
    st.integers(0, 70), st.sampled_from(["new", "paid", "shipped", "x", *HOSTILE])
)
plausible_filters = st.lists(
    st.fixed_dictionaries(
        {
            "column": st.sampled_from(["id", "status", "quantity", "customer_id", "name"]),
            "op": st.sampled_from(FILTER_OPS),
            "value": st.one_of(plausible_values, st.lists(plausible_values, max_size=3)),
        }
    ),
    max_size=2,
)
plausible_table = st.sampled_from(["orders", "customers"])
plausible_rows = st.lists(
    st.fixed_dictionaries(
        {"customer_id": st.integers(0, 7), "product_id": st.integers(1, 5)},
        optional={"status": plausible_values, "quantity": plausible_values},
    ),
    min_size=1,
    max_size=7,
)
plausible_calls = st.one_of(
    st.tuples(
        st.just("select_rows"),
        st.fixed_dictionaries(
            {"table": plausible_table},
            optional={"filters": plausible_filters, "limit": st.integers(1, 70)},
        ),
    ),
    st.tuples(
        st.just("insert_rows"),
        st.fixed_dictionaries({"table": plausible_table, "rows": plausible_rows}),
    ),
    st.tuples(
        st.just("update_rows"),
        st.fixed_dictionaries(
            {
                "table": plausible_table,
                "values": st.fixed_dictionaries({"status": plausible_values}),
                "filters": plausible_filters,
            }
        ),
    ),
    st.tuples(
        st.just("delete_rows"),
        st.fixed_dictionaries({"table": plausible_table, "filters": plausible_filters}),
    ),
)
tools = st.one_of(
    st.sampled_from(list(TOOL_OPERATION)),
    st.sampled_from(["drop_table", "approve", "decide_action", "SELECT_ROWS", " select_rows"]),
    st.text(max_size=20),
)
calls = st.one_of(plausible_calls, st.tuples(tools, arguments))


@dataclass
class Gate:
    """One chatbot's gate, rebuilt inside each example's own event loop."""

    make: Callable[[], ToolContext]

    def call(self, tool: str, args: object) -> ToolResult:
        async def go() -> ToolResult:
            ctx = self.make()
            try:
                return await run_tool(ctx, tool, args)
            finally:
                await ctx.aclose()

        return asyncio.run(go())


@pytest.fixture
def gate(supabase_stack, heho_user, make_chatbot) -> Callable[..., Gate]:
    schema = asyncio.run(discover_schema(supabase_stack.url, supabase_stack.service_key))

    def build(grants: list[dict], row_cap: int = 100) -> Gate:
        chatbot = make_chatbot(grants, row_cap=row_cap, memory_enabled=False)
        with session_scope() as session:
            policy = load_policy(session, chatbot.id)
        limits = ChatbotLimits(id=chatbot.id, row_cap=row_cap, memory_enabled=False)
        return Gate(
            lambda: ToolContext(
                user_id=heho_user.id,
                chatbot=limits,
                supabase_url=normalise_url(supabase_stack.url),
                supabase_key=supabase_stack.service_key,
                policy=policy,
                db_schema=schema,
            )
        )

    return build


def rows_by_table(stack) -> dict[str, Counter]:
    """Each table's rows as a multiset of their JSON text."""
    agg = "coalesce(jsonb_agg(to_jsonb(t)), '[]')::text"
    parts = ", ".join(f"(select {agg} from public.{table} t)" for table in ALL_TABLES)  # noqa: S608
    dumped = stack.execute(f"select {parts}")[0]
    return {
        table: Counter(json.dumps(row, sort_keys=True) for row in json.loads(text))
        for table, text in zip(ALL_TABLES, dumped, strict=True)
    }


def touched(before: dict[str, Counter], after: dict[str, Counter]) -> dict[str, int]:
    """Rows changed per table (an update counts once: its old row went, a new one came)."""
    return {
        table: max(
            sum((before[table] - after[table]).values()),
            sum((after[table] - before[table]).values()),
        )
        for table in before
        if before[table] != after[table]
    }


SCENARIOS = {
    "read only": ([{"table": "customers"}], {}, 100),
    "insert only": (
        [{"table": "orders", "read": False, "insert": True}],
        {"orders": {"insert"}},
        100,
    ),
    "update and delete, cap 5": (
        [{"table": "orders", "update": True, "delete": True, "confirm_delete": True}],
        {"orders": {"update", "delete"}},
        5,
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_any_call_stays_within_its_grant(scenario, gate, supabase_stack, attacks):
    grants, writable, cap = SCENARIOS[scenario]
    chatbot = gate(grants, row_cap=cap)
    granted_reads = {g["table"] for g in grants if g.get("read", True)}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(call=calls)
    def attempt(call: tuple[str, object]) -> None:
        tool, args = call
        before = rows_by_table(supabase_stack)
        result = chatbot.call(tool, args)
        changes = touched(before, rows_by_table(supabase_stack))
        operation = TOOL_OPERATION.get(tool)
        outside = {t for t in changes if not writable.get(t)}
        over_cap = any(n > cap for n in changes.values())
        wrongly_ok = result.ok and operation is not None and (
            (operation.value == "read" and result.table not in granted_reads)
            or (operation.value != "read" and operation.value not in writable.get(result.table, ()))
        )  # fmt: skip
        attacks.record(
            f"random tool calls: {scenario}", got_through=bool(outside or over_cap or wrongly_ok)
        )
        assert isinstance(result, ToolResult)
        assert result.outcome in ("ok", "denied", "failed")
        assert not outside, (tool, args, changes)
        assert not over_cap, (tool, args, changes)
        assert not wrongly_ok, (tool, args, result)
        if result.ok and tool == "select_rows":
            assert result.count <= MAX_LIMIT
        seen[(tool, result.outcome)] += 1

    seen: Counter = Counter()
    attempt()
    for operation in set().union(*writable.values()):
        tool = {"insert": "insert_rows", "update": "update_rows", "delete": "delete_rows"}[
            operation
        ]
        assert seen[(tool, "ok")], f"no allowed {tool} ran: {seen}"
        assert seen[(tool, "denied")]
