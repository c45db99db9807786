"""A throwaway redis-server on a loopback port, which can be stopped and started again."""

import shutil
import subprocess
from pathlib import Path

import redis

from heho_app.devtools.processes import StartupError, free_port, terminate, wait_until

# Reflex's state manager subscribes to keyspace events and sets this itself when it
# starts; a Redis restarted under a running app must come back with it
# (docs/deploy.md puts it in redis.conf).
NOTIFY_KEYSPACE_EVENTS = "K$sgxe"


class RedisServer:
    """`redis-server` without persistence, in `workdir`, on the same port across restarts."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise StartupError("redis-server is missing: apt-get install redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "redis.log"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--logfile", str(log),
             "--notify-keyspace-events", NOTIFY_KEYSPACE_EVENTS],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_until(self.ping, 10, "redis-server", log)
        return self

    def ping(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
