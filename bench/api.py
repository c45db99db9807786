"""Benchmark: time to first token through HeHo's `/api/v1/chat/completions`, versus
asking the same upstream directly.

Starts everything it needs and stops it at the end: the local OpenRouter in this
process (instant tokens), the local Supabase stack, and the app (`reflex run --env
prod`) on a free port with a temporary SQLite file and throwaway secrets. Then, at
concurrency 1 and 50, it interleaves streamed requests through HeHo (a chatbot with
one granted table, memory off) with the same streamed request sent straight to the
local OpenRouter, and prints the median and p99 time to the first content token of
each, and what HeHo adds (target: median added <= 3 ms).

    .venv/bin/python bench/api.py [--runs 300] [--rounds 10]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heho_app.devtools.seed import add_connected_chatbot, add_user, throwaway_settings
from heho_app.devtools.supabase_stack import LocalSupabase

QUESTION = "hello"
TARGET_MS = 3.0


async def first_token_ms(
    client: httpx.AsyncClient, url: str, body: dict, headers: dict[str, str]
) -> float:
    """Milliseconds from sending the request to the first non-empty content delta."""
    started = time.perf_counter()
    async with client.stream("POST", url, json=body, headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if choices[0].get("delta", {}).get("content"):
                elapsed = (time.perf_counter() - started) * 1000
                await response.aclose()
                return elapsed
    raise RuntimeError(f"no token from {url}")


def summary(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), statistics.quantiles(times, n=100)[98]


async def measure(
    through_heho: Callable[[], Awaitable[float]],
    direct: Callable[[], Awaitable[float]],
    concurrency: int,
    rounds: int,
) -> tuple[list[float], list[float]]:
    """`rounds` waves of `concurrency` requests, HeHo's and direct ones alternating."""
    heho_times: list[float] = []
    direct_times: list[float] = []
    for index in range(rounds * 2):
        heho_turn = index % 2 == 0
        call, times = (through_heho, heho_times) if heho_turn else (direct, direct_times)
        times.extend(await asyncio.gather(*(call() for _ in range(concurrency))))
    return heho_times, direct_times


def seed(db_url: str, stack: LocalSupabase) -> tuple[str, str]:
    """A user with an unlimited API key and a chatbot connected to the stack."""
    from sqlmodel import Session

    from heho_app.db import make_engine
    from heho_app.services.api_keys import create_api_key

    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        user = add_user(session, email="bench@example.com")
        key = create_api_key(
            session, user_id=user.id, name="bench", rate_limit_per_minute=10_000_000
        )
        chatbot = add_connected_chatbot(
            session,
            user_id=user.id,
            stack=stack,
            openrouter_key="sk-or-v1-bench-0123456789",
            grants=[{"table": "orders"}],
            name="bench",
            model="heho/fake-tools",
            memory_enabled=False,
        )
        session.commit()
        chatbot_id = chatbot.id
    engine.dispose()
    return key.plaintext, chatbot_id


async def bench(app_url: str, upstream_url: str, key: str, chatbot_id: str, args) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        api_body = {
            "model": chatbot_id,
            "messages": [{"role": "user", "content": QUESTION}],
            "stream": True,
        }
        # What HeHo itself sends upstream for this chatbot, minus the system prompt.
        direct_body = {
            "model": "heho/fake-tools",
            "messages": [{"role": "user", "content": QUESTION}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }

        async def through_heho() -> float:
            return await first_token_ms(
                client,
                f"{app_url}/api/v1/chat/completions",
                api_body,
                {"Authorization": f"Bearer {key}"},
            )

        async def direct() -> float:
            return await first_token_ms(
                client,
                f"{upstream_url}/chat/completions",
                direct_body,
                {"Authorization": "Bearer sk-or-v1-bench-0123456789"},
            )

        await measure(through_heho, direct, 10, 5)  # warm up both paths
        print(f"time to first token, ms (HeHo: {app_url}; upstream: local OpenRouter)")
        print(f"{'concurrency':>11} {'series':>8} {'n':>5} {'median':>8} {'p99':>8}")
        for concurrency, rounds in ((1, args.runs), (50, args.rounds)):
            heho_times, direct_times = await measure(through_heho, direct, concurrency, rounds)
            heho_median, heho_p99 = summary(heho_times)
            direct_median, direct_p99 = summary(direct_times)
            for label, times, median, p99 in (
                ("heho", heho_times, heho_median, heho_p99),
                ("direct", direct_times, direct_median, direct_p99),
            ):
                print(f"{concurrency:>11} {label:>8} {len(times):>5} {median:>8.2f} {p99:>8.2f}")
            added, added_p99 = heho_median - direct_median, heho_p99 - direct_p99
            verdict = "meets" if added <= TARGET_MS else "misses"
            print(
                f"{concurrency:>11} {'added':>8} {'':>5} {added:>8.2f} {added_p99:>8.2f}"
                f"   ({verdict} the {TARGET_MS:g} ms median target)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="requests per series at 1")
    parser.add_argument("--rounds", type=int, default=10, help="waves of 50 per series at 50")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heho-bench-") as tmp:
        root = Path(tmp)
        secrets_env = throwaway_settings(root)
        os.environ.update(secrets_env)  # before HeHo reads its settings, here and in the app

        from heho_app.devtools.app_server import serve_app
        from heho_app.devtools.fake_openrouter import FakeOpenRouter
        from heho_app.devtools.processes import free_port

        with FakeOpenRouter(tokens_per_second=0) as upstream, LocalSupabase() as stack:
            os.environ["OPENROUTER_BASE_URL"] = upstream.url
            log_path = root / "app.log"
            print("starting the app (reflex run --env prod)…", flush=True)
            with serve_app(port=free_port(), env={}, log_path=log_path) as app_url:
                key, chatbot_id = seed(secrets_env["REFLEX_DB_URL"], stack)
                asyncio.run(bench(app_url, upstream.url, key, chatbot_id, args))


if __name__ == "__main__":
    main()
