"""Load on the deployment of docs/deploy.md: nginx in front of two workers, PostgreSQL
and Redis, the local Supabase and the local OpenRouter (a separate process).

    .venv/bin/python bench/load.py [--seconds 60] [--chats 100] [--browsers 50] [--keep-logs]

Through nginx:
- `--chats` clients each stream chat completions back to back from
  `/api/v1/chat/completions` (OpenAI-compatible SSE), each with its own HeHo API key;
- `--browsers` clients are raw websockets speaking Reflex's event protocol
  (Engine.IO 4 / Socket.IO 5) to `/_event`, signed in with a real session cookie on a
  chatbot's chat page, behaving like people: a chat event, then 5 s of reading.
Time to first token (TTFT) is from sending the message to the first streamed text
reaching the client; "added" subtracts the upstream's own TTFT, measured directly.
Memory per connected client is the app's resident memory (all its processes) with
every websocket client connected, minus that with one warmed-up, divided by the
others.
CPU is the app's processes, nginx's, and the whole machine's, over the run.
"""

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HEHO_SECRET_KEY", secrets.token_urlsafe(48))
os.environ.setdefault(
    "HEHO_ENCRYPTION_KEYS", "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode()
)

import httpx
import websockets
from sqlmodel import Session

from heho_app.db import make_engine
from heho_app.devtools.databases import temporary_database
from heho_app.devtools.deployment import LocalDeployment, cpu_seconds, rss_bytes
from heho_app.devtools.processes import free_port, processes_in_group, terminate, wait_until
from heho_app.devtools.seed import add_connected_chatbot, add_user
from heho_app.devtools.supabase_stack import LocalSupabase
from heho_app.security import SESSION_COOKIE, hash_password
from heho_app.services.api_keys import create_api_key

PASSWORD = "bench-load-window-2026"  # noqa: S105 - the throwaway users of this run
STATE = "reflex___state____state"
CHAT = f"{STATE}.heho_app___state___chat____chat_state"
TOKENS_PER_SECOND = 200.0  # the local OpenRouter's streaming pace
USERS = 10


@dataclass
class Stats:
    ttft: list[float] = field(default_factory=list)
    completed: int = 0
    errors: list[str] = field(default_factory=list)


def seed(db_url: str, stack: LocalSupabase, users: int) -> list[tuple[str, str, str]]:
    """Users with a connected chatbot and an (unlimited) API key each; returns
    (email, chatbot id, API key) triples."""
    engine = make_engine(db_url)
    password_hash = hash_password(PASSWORD)
    seeded = []
    with Session(engine, expire_on_commit=False) as session:
        for number in range(users):
            user = add_user(
                session,
                email=f"bench{number}-{uuid.uuid4().hex[:6]}@example.com",
                password_hash=password_hash,
                verified=True,
            )
            chatbot = add_connected_chatbot(
                session,
                user_id=user.id,
                stack=stack,
                openrouter_key="sk-or-bench",
                grants=[{"table": "orders"}],
                name="Bench",
            )
            key = create_api_key(
                session, user_id=user.id, name="bench", rate_limit_per_minute=10_000_000
            )
            seeded.append((user.email, chatbot.id, key.plaintext))
        session.commit()
    engine.dispose()
    return seeded


def log_in(base_url: str, email: str) -> str:
    """The session cookie, through the same HTTP login the pages use."""
    with httpx.Client(base_url=base_url, headers={"Origin": base_url}) as client:
        csrf = client.get("/auth/csrf").json()["csrf_token"]
        response = client.post(
            "/auth/login",
            json={"email": email, "password": PASSWORD},
            headers={"X-CSRF-Token": csrf},
        )
        response.raise_for_status()
        return client.cookies[SESSION_COOKIE]


class ReflexClient:
    """One browser tab on /chat/<id>, as a websocket speaking Reflex's protocol."""

    def __init__(self, base_url: str, cookie: str, chatbot_id: str) -> None:
        self.base_url = base_url
        self.cookie = cookie
        self.chatbot_id = chatbot_id
        self.token = str(uuid.uuid4())
        self.socket: websockets.ClientConnection | None = None
        self.updates: asyncio.Queue[dict] = asyncio.Queue()
        self._reader: asyncio.Task | None = None

    def _event(self, name: str, payload: dict | None = None) -> dict:
        path = f"/chat/{self.chatbot_id}"
        return {
            "name": name,
            "payload": payload or {},
            "router_data": {
                "pathname": path,
                "asPath": path,
                "query": {"chatbot_id": self.chatbot_id},
            },
        }

    async def connect(self) -> None:
        url = (
            self.base_url.replace("http://", "ws://")
            + f"/_event/?token={self.token}&EIO=4&transport=websocket"
        )
        self.socket = await websockets.connect(
            url,
            origin=self.base_url,
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.cookie}"},
            max_size=None,
        )
        opening = await self.socket.recv()
        assert str(opening).startswith("0"), opening
        auth = {"event": self._event(f"{STATE}.hydrate_and_load")}
        await self.socket.send("40/_event," + json.dumps(auth))
        self._reader = asyncio.create_task(self._read())
        await self.wait_for(lambda delta: delta.get(CHAT, {}).get("chatbot_name_rx_state_"))

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message == "2":
                await self.socket.send("3")
            elif isinstance(message, str) and message.startswith("42/_event,"):
                name, data = json.loads(message[len("42/_event,") :])[:2]
                if name != "event":
                    continue
                for event in data.get("events") or []:
                    if not event.get("name", "").startswith("_"):
                        await self.emit(event["name"], event.get("payload"))
                await self.updates.put(data.get("delta") or {})

    async def emit(self, name: str, payload: dict | None = None) -> None:
        assert self.socket is not None
        await self.socket.send("42/_event," + json.dumps(["event", self._event(name, payload)]))

    async def wait_for(self, check, timeout: float = 60) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                delta = await self.updates.get()
                if check(delta):
                    return delta

    async def chat(self, text: str) -> float:
        """Send one message; returns the time to its first streamed text."""
        while not self.updates.empty():
            self.updates.get_nowait()
        sent = time.perf_counter()
        await self.emit(f"{CHAT}.send", {"form": {"message": text}})
        await self.wait_for(lambda delta: delta.get(CHAT, {}).get("streaming_text_rx_state_"))
        first = time.perf_counter() - sent
        await self.wait_for(lambda delta: delta.get(CHAT, {}).get("streaming_rx_state_") is False)
        return first

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.socket is not None:
            await self.socket.close()


class ApiChat:
    """One program streaming chat completions from HeHo's OpenAI-compatible API."""

    def __init__(self, http: httpx.AsyncClient, key: str, chatbot_id: str) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {key}"}
        self.chatbot_id = chatbot_id

    async def chat(self, text: str) -> float:
        """One streamed completion; returns the time to its first content delta."""
        body = {
            "model": self.chatbot_id,
            "stream": True,
            "messages": [{"role": "user", "content": text}],
        }
        sent = time.perf_counter()
        first: float | None = None
        async with self.http.stream(
            "POST", "/api/v1/chat/completions", json=body, headers=self.headers
        ) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if first is None and line.startswith("data: {"):
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    if choices[0].get("delta", {}).get("content"):
                        first = time.perf_counter() - sent
                if line == "data: [DONE]":
                    break
        if first is None:
            raise RuntimeError("the stream ended without text")
        return first


async def run_client(
    client: ReflexClient | ApiChat,
    stats: Stats,
    until: float,
    think: float,
    started: asyncio.Event,
) -> None:
    await started.wait()
    turn = 0
    while time.monotonic() < until:
        turn += 1
        try:
            async with asyncio.timeout(60):
                ttft = await client.chat(f"Hello number {turn}, how are the orders?")
            stats.ttft.append(ttft)
            stats.completed += 1
        except Exception as error:  # counted and reported; the run goes on
            stats.errors.append(f"{type(error).__name__}: {error}"[:200])
        if think:
            await asyncio.sleep(think)


async def upstream_ttft(base_url: str, samples: int = 20) -> float:
    """The local OpenRouter's own median time to first token, measured directly."""
    times = []
    body = {
        "model": "openai/gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "Hello number 1, how are the orders?"}],
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for _ in range(samples):
            sent = time.perf_counter()
            async with client.stream(
                "POST",
                "/chat/completions",
                json=body,
                headers={"Authorization": "Bearer sk-or-bench"},
            ) as response:
                first: float | None = None
                async for line in response.aiter_lines():
                    if first is None and '"content"' in line:
                        first = time.perf_counter() - sent
                assert first is not None, "the local OpenRouter streamed no text"
                times.append(first)
    return statistics.median(times)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


async def load(deployment: LocalDeployment, seeded, args, upstream: str) -> dict:
    baseline = await upstream_ttft(upstream)
    cookies = [log_in(deployment.url, email) for email, _, _ in seeded]
    browsers = [
        ReflexClient(deployment.url, cookies[i % len(seeded)], seeded[i % len(seeded)][1])
        for i in range(args.browsers)
    ]
    http = httpx.AsyncClient(
        base_url=deployment.url,
        timeout=90,
        limits=httpx.Limits(max_connections=args.chats, max_keepalive_connections=args.chats),
    )
    api_chats = [
        ApiChat(http, seeded[i % len(seeded)][2], seeded[i % len(seeded)][1])
        for i in range(args.chats)
    ]
    total = args.chats + args.browsers
    app_pids = deployment.app_processes()
    gate = asyncio.Semaphore(20)

    async def connect(client: ReflexClient) -> None:
        async with gate:
            await client.connect()

    # One tab and one API chat first, so that the memory counted per client is not
    # the workers' one-off warm-up (imports, connection pools).
    await connect(browsers[0])
    await browsers[0].chat("warm up")
    await api_chats[0].chat("warm up")
    rss_before = sum(rss_bytes(pid) for pid in app_pids)
    await asyncio.gather(*(connect(client) for client in browsers[1:]))
    rss_connected = sum(rss_bytes(pid) for pid in app_pids)

    nginx_pids = processes_in_group(deployment.nginx.process.pid)  # type: ignore[union-attr]
    watched = app_pids + nginx_pids
    cpu_before = {pid: cpu_seconds(pid) for pid in watched}
    machine_before = machine_cpu()
    wall = time.monotonic()
    until = wall + args.seconds
    started = asyncio.Event()
    chat_stats, browser_stats = Stats(), Stats()
    tasks = [run_client(chat, chat_stats, until, 0, started) for chat in api_chats] + [
        run_client(tab, browser_stats, until, 5, started) for tab in browsers
    ]
    started.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - wall
    cpu_used = {pid: cpu_seconds(pid) - cpu_before[pid] for pid in watched}
    machine_after = machine_cpu()
    rss_peak = sum(rss_bytes(pid) for pid in app_pids)
    await asyncio.gather(*(tab.close() for tab in browsers))
    await http.aclose()

    def summary(stats: Stats) -> dict:
        return {
            "completed": stats.completed,
            "errors": len(stats.errors),
            "first_errors": stats.errors[:3],
            "ttft_median_ms": round(statistics.median(stats.ttft) * 1000, 1),
            "ttft_p99_ms": round(percentile(stats.ttft, 0.99) * 1000, 1),
            "added_ttft_median_ms": round((statistics.median(stats.ttft) - baseline) * 1000, 1),
            "added_ttft_p99_ms": round((percentile(stats.ttft, 0.99) - baseline) * 1000, 1),
        }

    busy = machine_after[0] - machine_before[0]
    return {
        "seconds": round(wall, 1),
        "clients": total,
        "workers": deployment.workers,
        "upstream_ttft_median_ms": round(baseline * 1000, 1),
        "api_streaming_chats": summary(chat_stats),
        "browser_like_websockets": summary(browser_stats),
        "app_rss_before_mb": round(rss_before / 2**20, 1),
        "app_rss_connected_mb": round(rss_connected / 2**20, 1),
        "app_rss_end_mb": round(rss_peak / 2**20, 1),
        "memory_per_websocket_client_kb": round(
            (rss_connected - rss_before) / (args.browsers - 1) / 1024, 1
        ),
        "app_cpu_percent_of_one_core": round(
            sum(cpu_used[pid] for pid in app_pids) / wall * 100, 1
        ),
        "nginx_cpu_percent_of_one_core": round(
            sum(cpu_used[pid] for pid in nginx_pids) / wall * 100, 1
        ),
        "machine_cpu_percent": round(busy / (machine_after[1] - machine_before[1]) * 100, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--browsers", type=int, default=50)
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the app, nginx and Redis logs"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="heho-bench-load-"))
    llm_port = free_port()
    upstream = f"http://127.0.0.1:{llm_port}/api/v1"
    llm_log = (workdir / "llm.log").open("wb")
    llm = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "heho_app.cli", "dev-llm", "--port", str(llm_port),
         "--tokens-per-second", str(TOKENS_PER_SECOND)],
        stdout=llm_log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(f"{upstream}/models"), 20, "the local OpenRouter")
        users = USERS
        with LocalSupabase() as stack, temporary_database() as db_url:
            deployment = LocalDeployment(
                workdir,
                db_url,
                extra_env={
                    "OPENROUTER_BASE_URL": upstream,
                    "HEHO_SECRET_KEY": os.environ["HEHO_SECRET_KEY"],
                    "HEHO_ENCRYPTION_KEYS": os.environ["HEHO_ENCRYPTION_KEYS"],
                },
            )
            with deployment:
                seeded = seed(db_url, stack, users)
                print(f"deployment up at {deployment.url}; {users} users; loading...", flush=True)
                result = asyncio.run(load(deployment, seeded, args, upstream))
    finally:
        terminate(llm)
        llm_log.close()
        if args.keep_logs:
            print(f"logs: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    sys.exit(main())
