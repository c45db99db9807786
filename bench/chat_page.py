"""Benchmark: the chat page in Chromium, against the running app.

Starts the local OpenRouter (in this process), the local Supabase stack and the app
(`reflex run --env prod`, temporary SQLite file, throwaway secrets), signs a user in
through the login form in Debian's Chromium (Playwright) and opens a connected
chatbot's chat page. Then:

1. **Time to first token on the page**: `--turns` questions, each timed in the page
   from the click on Send to the first answer text drawn in the DOM (a
   MutationObserver). Interleaved with each, the same question is sent straight to
   the upstream (httpx), whose own time to first token is subtracted: the rest is
   what HeHo adds (server, websocket, React). The upstream answers instantly.
2. **Highest token rate the page keeps up with**: for each upstream pace (tokens per
   second), a ~4 s answer is streamed to the page. The same answer is streamed
   straight from the upstream to time its real rate (the local OpenRouter cannot hold
   every nominal pace); the page keeps up when it draws the tokens, first to last, at
   95 % of that rate or better.

    .venv/bin/python bench/chat_page.py [--turns 200] [--rates 100,200,300,400,800,1600]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heho_app.devtools.seed import add_connected_chatbot, add_user, throwaway_settings
from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.devtools.toolchain import CHROMIUM, CHROMIUM_ARGS

PASSWORD = "bench-chat-page-2026"  # noqa: S105 - the throwaway user of this run
KEY = "sk-or-v1-bench-chat-page-0123"
END = "ENDMARK"
KEEP_UP = 0.95
SECONDS_PER_RATE = 4.0
ANSWER_LIMIT_S = 60
CONVERSATION_TURNS = 20  # a new conversation every so often, as people do

# Clicks Send and resolves with the ms to the first answer text, the ms to `end` in
# the answer (null if it is not shown within `limitMs`) and the words shown by then,
# measured in the page. The streaming box shows the text plus a cursor.
TIME_ANSWER_JS = """
async ({end, limitMs}) => {
  const answerText = () => {
    const streaming = document.querySelector('#streaming-answer');
    if (streaming) return streaming.textContent.replace('▍', '').trim();
    const answers = document.querySelectorAll('.message[data-role="assistant"]');
    return answers.length > window.__answersBefore
      ? answers[answers.length - 1].textContent.trim() : '';
  };
  window.__answersBefore = document.querySelectorAll(
    '.message[data-role="assistant"]').length;
  const button = [...document.querySelectorAll('button[type="submit"]')]
    .find((b) => b.textContent.includes('Send'));
  return await new Promise((resolve, reject) => {
    let first = null;
    const started = performance.now();
    const check = () => {
      const text = answerText();
      const now = performance.now();
      if (first === null && text) first = now - started;
      if (first !== null && (end === null || text.includes(end))) {
        observer.disconnect();
        clearTimeout(timer);
        resolve([first, now - started, text.split(/\s+/).length]);
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, {childList: true, subtree: true, characterData: true});
    const timer = setTimeout(() => {
      observer.disconnect();
      resolve([first, null, answerText().split(/\s+/).length]);
    }, limitMs);
    button.click();
  });
}
"""


def percentile_99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def seed(db_url: str, stack: LocalSupabase) -> tuple[str, str]:
    """A verified user with a connected chatbot (memory off: one upstream call a turn)."""
    from sqlmodel import Session

    from heho_app.db import make_engine
    from heho_app.security import hash_password

    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as session:
        user = add_user(
            session,
            email="bench-page@example.com",
            password_hash=hash_password(PASSWORD),
            verified=True,
        )
        chatbot = add_connected_chatbot(
            session,
            user_id=user.id,
            stack=stack,
            openrouter_key=KEY,
            grants=[{"table": "orders"}],
            name="Bench",
            memory_enabled=False,
        )
        session.commit()
        email, chatbot_id = user.email, chatbot.id
    engine.dispose()
    return email, chatbot_id


def direct_stream_ms(http: httpx.Client, text: str) -> tuple[float, float]:
    """(ms to the first content delta, ms from the first to the last) straight from
    the upstream, on a kept-alive connection (as HeHo's own client has)."""
    body = {
        "model": "heho/fake-tools",
        "stream": True,
        "messages": [{"role": "user", "content": text}],
    }
    started = time.perf_counter()
    first = last = None
    with http.stream("POST", "/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                last = time.perf_counter()
                first = first or last
    if first is None or last is None:
        raise RuntimeError("the upstream sent no text")
    return (first - started) * 1000, (last - first) * 1000


def ask(page, text: str, end: str | None) -> tuple[float, float | None, int]:
    """Send `text`; (ms to the first answer text, ms to `end` or None, words shown)."""
    page.locator("#chat-input").fill(text)
    limit_ms = ANSWER_LIMIT_S * 1000
    first, complete, shown = page.evaluate(TIME_ANSWER_JS, {"end": end, "limitMs": limit_ms})
    if first is None:
        raise RuntimeError(f"no answer on the page within {ANSWER_LIMIT_S} s")
    page.wait_for_selector("#streaming-answer", state="detached", timeout=limit_ms * 2)
    return first, complete, shown


def new_conversation(page) -> None:
    page.get_by_role("button", name="New conversation").first.click()
    page.wait_for_function("() => !document.querySelector('.message[data-role=\"assistant\"]')")


def first_token_series(page, http: httpx.Client, turns: int) -> None:
    page_times, direct_times = [], []
    for turn in range(turns + 10):
        if turn % CONVERSATION_TURNS == 0:
            new_conversation(page)
        page_first, _, _ = ask(page, f"hello {turn}", None)
        direct_first, _ = direct_stream_ms(http, f"hello {turn}")
        if turn >= 10:  # the first ten warm up
            page_times.append(page_first)
            direct_times.append(direct_first)
    added = [p - d for p, d in zip(page_times, direct_times, strict=True)]
    print(f"\ntime to first token, {turns} turns each, interleaved (upstream answers at once)")
    for name, values in (
        ("upstream alone", direct_times),
        ("on the page", page_times),
        ("added by HeHo + page", added),
    ):
        median, p99 = statistics.median(values), percentile_99(values)
        print(f"{name:<22} median {median:8.1f} ms   p99 {p99:8.1f} ms")


def token_rate_series(page, http: httpx.Client, upstream, rates: list[int]) -> None:
    print(f"\nkeeping up with the upstream's pace (~{SECONDS_PER_RATE:g} s answers)")
    print(f"{'nominal':>8} {'tokens':>7} {'upstream tok/s':>15} {'page tok/s':>11} {'ratio':>6}")
    highest = None
    for rate in rates:
        tokens = max(50, int(rate * SECONDS_PER_RATE))
        text = " ".join(f"w{i}" for i in range(tokens)) + f" {END}"
        step = {"text": text, "tokens_per_second": rate}
        new_conversation(page)
        upstream.script(step)
        _, upstream_ms = direct_stream_ms(http, "pace")
        upstream.script(step)
        first, complete, shown = ask(page, f"pace {rate}", END)
        upstream_rate = tokens / upstream_ms * 1000
        if complete is None:
            print(
                f"{rate:>8} {tokens + 1:>7} {upstream_rate:>15.0f}"
                f"  falls behind: {shown} tokens shown after {ANSWER_LIMIT_S} s"
            )
            continue
        page_rate = tokens / (complete - first) * 1000
        ratio = page_rate / upstream_rate
        if ratio >= KEEP_UP:
            highest = rate
        verdict = "keeps up" if ratio >= KEEP_UP else "falls behind"
        print(
            f"{rate:>8} {tokens + 1:>7} {upstream_rate:>15.0f} {page_rate:>11.0f}"
            f" {ratio:>6.2f}  {verdict}"
        )
    print(f"highest nominal pace the page keeps up with: {highest or 'none'} tokens/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--rates", default="100,200,300,400,800,1600")
    args = parser.parse_args()
    rates = [int(rate) for rate in args.rates.split(",")]
    with tempfile.TemporaryDirectory(prefix="heho-bench-page-") as tmp:
        root = Path(tmp)
        env = throwaway_settings(root)
        os.environ.update(env)  # before HeHo reads its settings, here and in the app

        from playwright.sync_api import sync_playwright

        from heho_app.devtools.app_server import serve_app
        from heho_app.devtools.fake_openrouter import FakeOpenRouter
        from heho_app.devtools.processes import free_port

        with FakeOpenRouter(tokens_per_second=0) as upstream, LocalSupabase() as stack:
            os.environ["OPENROUTER_BASE_URL"] = upstream.url
            print("starting the app (reflex run --env prod)…", flush=True)
            with (
                serve_app(port=free_port(), env={}, log_path=root / "app.log") as app_url,
                sync_playwright() as playwright,
            ):
                email, chatbot_id = seed(env["REFLEX_DB_URL"], stack)
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page()
                page.goto(f"{app_url}/login?next=/chat/{chatbot_id}")
                page.wait_for_function("() => !!window.sessionStorage.getItem('token')")
                page.get_by_label("Email").fill(email)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(f"**/chat/{chatbot_id}", timeout=30_000)
                page.get_by_text("Ask a question to start.").wait_for(timeout=30_000)
                auth = {"Authorization": f"Bearer {KEY}"}
                with httpx.Client(base_url=upstream.url, headers=auth, timeout=60) as http:
                    first_token_series(page, http, args.turns)
                    token_rate_series(page, http, upstream, rates)
                browser.close()


if __name__ == "__main__":
    main()
