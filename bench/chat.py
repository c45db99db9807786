"""Benchmark: HeHo's added time to first token, at the service.

Starts the local Supabase, the local OpenRouter (answering instantly) and a
temporary SQLite file as HeHo's own database, then runs chat turns through
`agent.run_turn` (what the chat page and the REST API run: the user's message
saved to the project, memories recalled, the prompt built, the upstream called)
and, interleaved, the same request straight to the upstream with
`openrouter.stream_chat`. Prints the median and p99 of both times to first token
and of HeHo's added time (paired differences).

    .venv/bin/python bench/chat.py [--turns 200]

The browser side (send → first token on the page, and the highest token rate the
page keeps up with) is `bench/chat_page.py`.
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

from heho_app.devtools.processes import free_port
from heho_app.devtools.seed import add_connected_chatbot, add_user, throwaway_settings


def configure_environment() -> int:
    """HeHo's settings for a throwaway run; returns the local OpenRouter's port."""
    port = free_port()
    os.environ.update(throwaway_settings(Path(tempfile.mkdtemp(prefix="heho-bench-chat-"))))
    os.environ["OPENROUTER_BASE_URL"] = f"http://127.0.0.1:{port}/api/v1"
    return port


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{name:<28} median {statistics.median(values):7.2f} ms   p99 {p99:7.2f} ms"


async def bench(turns: int, port: int) -> None:
    from heho_app.db import run_migrations, session_scope
    from heho_app.devtools.fake_openrouter import FakeOpenRouter
    from heho_app.devtools.supabase_stack import LocalSupabase
    from heho_app.services import conversations
    from heho_app.services.agent import TextChunk, open_chat, run_turn
    from heho_app.services.openrouter import TextDelta, stream_chat

    key = "sk-or-v1-bench"
    with LocalSupabase() as stack, FakeOpenRouter(port=port, tokens_per_second=0) as upstream:
        run_migrations(os.environ["REFLEX_DB_URL"])
        with session_scope() as session:
            user = add_user(session, email="bench@example.com")
            chatbot = add_connected_chatbot(
                session,
                user_id=user.id,
                stack=stack,
                openrouter_key=key,
                grants=[{"table": "orders"}],
                name="bench",
            )
        chat = await open_chat(user.id, chatbot.id, purpose="bench")

        async def heho_turn() -> float:
            conversation = await conversations.create_conversation(chat.tools, "bench")
            started = time.perf_counter()
            first = None
            async for event in run_turn(chat, "hello", conversation_id=conversation["id"]):
                if first is None and isinstance(event, TextChunk):
                    first = time.perf_counter()
            assert first is not None
            return (first - started) * 1000

        async def raw_turn() -> float:
            started = time.perf_counter()
            first = None
            messages = [{"role": "user", "content": "hello"}]
            async for event in stream_chat(key, chatbot.model, messages, base_url=upstream.url):
                if first is None and isinstance(event, TextDelta):
                    first = time.perf_counter()
            assert first is not None
            return (first - started) * 1000

        for _ in range(20):
            await heho_turn()
            await raw_turn()
        heho_times, raw_times = [], []
        for _ in range(turns):
            heho_times.append(await heho_turn())
            raw_times.append(await raw_turn())
        await chat.aclose()

    added = [h - r for h, r in zip(heho_times, raw_times, strict=True)]
    print(f"{turns} turns each, interleaved; the upstream answers instantly")
    print(summary("upstream alone", raw_times))
    print(summary("through HeHo (run_turn)", heho_times))
    print(summary("added by HeHo", added))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    port = configure_environment()
    asyncio.run(bench(args.turns, port))


if __name__ == "__main__":
    main()
