"""Benchmark: the same select through HeHo's gate and through plain supabase-py.

Starts a local Supabase and a temporary SQLite file as HeHo's own database (the
default deployment), then runs 500 gated and 500 raw selects, interleaved, and
prints both medians and their ratio (target: gate/raw <= 1.15). A third series,
the gate's checks without its two audit writes, shows where the time goes.

    .venv/bin/python bench/operations.py [--runs 500]
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERY = {
    "table": "orders",
    "columns": ["id", "customer_id", "status"],
    "filters": [{"column": "status", "op": "eq", "value": "paid"}],
    "limit": 20,
}


async def bench(runs: int) -> None:
    from heho_app.db import run_migrations, session_scope
    from heho_app.devtools.supabase_stack import LocalSupabase
    from heho_app.models import Chatbot, User
    from heho_app.services.operations import _dispatch, open_tool_context, run_tool
    from heho_app.services.permissions import load_policy, save_grants

    with LocalSupabase() as stack:
        run_migrations(os.environ["REFLEX_DB_URL"])
        with session_scope() as session:
            user = User(email="bench@example.com", password_hash="!")  # noqa: S106 - no login
            session.add(user)
            session.flush()
            chatbot = Chatbot(user_id=user.id, name="bench")
            session.add(chatbot)
            session.flush()
            save_grants(session, chatbot.id, [{"table": "orders"}])
            policy = load_policy(session, chatbot.id)
        ctx = await open_tool_context(
            user_id=user.id,
            chatbot=chatbot,
            supabase_url=stack.url,
            supabase_key=stack.service_key,
            policy=policy,
        )
        raw = await ctx.client()  # the very same supabase-py client, used directly

        async def gated() -> None:
            result = await run_tool(ctx, "select_rows", QUERY)
            assert result.ok and result.count == 20, result

        async def unaudited() -> None:
            result = await _dispatch(ctx, "select_rows", QUERY, QUERY["table"])
            assert result.ok and result.count == 20, result

        async def plain() -> None:
            response = await (
                raw.table("orders")
                .select("id,customer_id,status")
                .eq("status", "paid")
                .limit(20)
                .execute()
            )
            assert len(response.data) == 20

        for _ in range(50):  # warm up every path
            await gated()
            await unaudited()
            await plain()
        gate_times, unaudited_times, raw_times = [], [], []
        for _ in range(runs):
            series = ((gated, gate_times), (unaudited, unaudited_times), (plain, raw_times))
            for func, times in series:
                started = time.perf_counter()
                await func()
                times.append((time.perf_counter() - started) * 1000)
        await ctx.aclose()

    gate, plain_median = statistics.median(gate_times), statistics.median(raw_times)
    print(f"runs: {runs} gated + {runs} raw (+ {runs} gate without audit), interleaved")
    for label, times in (
        ("gate", gate_times),
        ("raw ", raw_times),
        ("gate without audit writes", unaudited_times),
    ):
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{label} median: {statistics.median(times):.3f} ms   (p90 {p90:.3f} ms)")
    print(f"gate/raw: {gate / plain_median:.3f}  (target <= 1.15)")
    print(f"gate without audit writes/raw: {statistics.median(unaudited_times) / plain_median:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heho-bench-") as tmp:
        os.environ["REFLEX_DB_URL"] = f"sqlite:///{tmp}/heho.db"
        asyncio.run(bench(args.runs))


if __name__ == "__main__":
    main()
