"""docs/deploy.md on loopback: PostgreSQL, Redis, the production build with several
workers, and nginx from deploy/nginx.conf.template in front of it.

The caller brings the PostgreSQL database (its URL); everything else is started in
`workdir` and stopped by `stop()`. The app gets its own Reflex build directory
(`REFLEX_WEB_WORKDIR`), because the frontend bundle carries the address of the
websocket (`REFLEX_API_URL`, nginx's here): another app built into the project's
`.web` at the same time would overwrite it.
"""

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from heho_app.devtools.app_server import serve_app
from heho_app.devtools.nginx import Nginx, render_template
from heho_app.devtools.processes import (
    ESTABLISHED,
    LISTENING,
    free_port,
    processes_in_group,
    socket_inodes,
    tcp_inodes,
)
from heho_app.devtools.redis_server import RedisServer
from heho_app.settings import PROJECT_ROOT

NGINX_TEMPLATE = PROJECT_ROOT / "deploy" / "nginx.conf.template"


@dataclass
class LocalDeployment:
    workdir: Path
    db_url: str
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    app_port: int = field(default_factory=free_port)
    public_port: int = field(default_factory=free_port)
    redis: RedisServer | None = None
    nginx: Nginx | None = None
    app_group: int | None = None  # the app's process group: reflex run and its workers
    _app: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def url(self) -> str:
        """The address people use: nginx's."""
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def app_log_path(self) -> Path:
        return self.workdir / "app.log"

    def app_env(self) -> dict[str, str]:
        assert self.redis is not None
        return {
            "REFLEX_DB_URL": self.db_url,
            "REFLEX_REDIS_URL": self.redis.url,
            "GRANIAN_WORKERS": str(self.workers),
            "HEHO_PUBLIC_URL": self.url,
            "REFLEX_API_URL": self.url,
            "HEHO_TRUSTED_PROXY_HOPS": "1",
            "REFLEX_WEB_WORKDIR": str(self.workdir / "web"),
            **self.extra_env,
        }

    def start(self) -> "LocalDeployment":
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.redis = RedisServer(self.workdir / "redis").start()
            self._app.enter_context(
                serve_app(port=self.app_port, env=self.app_env(), log_path=self.app_log_path)
            )
            self.app_group = os.getpgid(_listening_pid(self.app_port))
            site = render_template(
                NGINX_TEMPLATE.read_text(),
                LISTEN=f"127.0.0.1:{self.public_port}",
                UPSTREAM=f"127.0.0.1:{self.app_port}",
            )
            self.nginx = Nginx(self.workdir / "nginx", site, access_log=True)
            self.nginx.start(f"{self.url}/api/v1/health")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        self._app.close()
        if self.redis is not None:
            self.redis.stop()
        self.nginx = self.redis = self.app_group = None

    def app_processes(self) -> list[int]:
        """The app's processes: `reflex run`, granian's main process and its workers."""
        assert self.app_group is not None
        return processes_in_group(self.app_group)

    def worker_pids(self) -> list[int]:
        """The backend workers (granian's main process is `reflex run` itself)."""
        return [pid for pid in self.app_processes() if pid != self.app_group]

    def connections_per_worker(self) -> dict[int, int]:
        """Open TCP connections each worker has accepted (from nginx) on the app's port."""
        accepted = tcp_inodes(ESTABLISHED, self.app_port)
        return {pid: len(socket_inodes(pid) & accepted) for pid in self.worker_pids()}

    def __enter__(self) -> "LocalDeployment":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _listening_pid(port: int) -> int:
    """A process that listens on `port` (every granian process holds the socket)."""
    listening = tcp_inodes(LISTENING, port)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and socket_inodes(int(entry.name)) & listening:
            return int(entry.name)
    raise LookupError(f"nothing listens on port {port}")
