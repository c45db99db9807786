"""nginx (Debian's nginx-light) run by an unprivileged process: its own config, pid,
logs and temp paths in one directory, on a loopback port, in the foreground.

`render_template` fills `${NAME}` placeholders the way
`envsubst '${LISTEN} ${UPSTREAM}'` does in docs/deploy.md: only the names given,
so nginx's own `$variables` stay as they are.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx

from heho_app.devtools.processes import (
    LISTENING,
    StartupError,
    processes_in_group,
    socket_inodes,
    tcp_inodes,
    terminate,
    wait_until,
)

NGINX_BIN = Path("/usr/sbin/nginx")
ACCESS_LOG_FORMAT = (
    'log_format heho \'$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent '
    "rt=$request_time upstream=$upstream_addr ut=$upstream_response_time';"
)


class NginxError(StartupError):
    """nginx is missing or did not start."""


def render_template(template: str, **values: str) -> str:
    """Replace `${NAME}` for the names given; everything else is left untouched."""
    missing = set(re.findall(r"\$\{(\w+)\}", template)) - set(values)
    if missing:
        raise NginxError(f"the template needs {', '.join(sorted(missing))}")
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], template)


class Nginx:
    """One nginx master (one worker) serving `site`, the inside of an `http {}` block."""

    def __init__(self, root: Path, site: str, *, access_log: bool = False) -> None:
        self.root = root
        self.site = site
        self.access_log = access_log
        self.process: subprocess.Popen | None = None

    @property
    def access_log_path(self) -> Path:
        return self.root / "access.log"

    @property
    def error_log_path(self) -> Path:
        return self.root / "error.log"

    def start(self, ready_url: str) -> "Nginx":
        """Start in the foreground and wait until `ready_url` answers."""
        if not NGINX_BIN.exists():
            raise NginxError("nginx is missing: apt-get install nginx-light")
        self.root.mkdir(parents=True, exist_ok=True)
        temp_paths = "\n".join(
            f"  {kind}_temp_path {self.root / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        logging = (
            f"  {ACCESS_LOG_FORMAT}\n  access_log {self.access_log_path} heho;"
            if self.access_log
            else "  access_log off;"
        )
        (self.root / "site.conf").write_text(self.site)
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"""daemon off;
pid {self.root / "nginx.pid"};
error_log {self.error_log_path} warn;
worker_processes 1;
events {{ worker_connections 4096; }}
http {{
{logging}
{temp_paths}
  # Bodies and proxied answers stay in memory: as root, nginx's workers run as
  # nobody and cannot write the temporary files under this (private) folder.
  client_body_buffer_size 2m;
  proxy_max_temp_file_size 0;
  include {self.root / "site.conf"};
}}
"""
        )
        with (self.root / "stderr.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(NGINX_BIN), "-c", str(conf), "-p", str(self.root), "-e",
                 str(self.error_log_path)],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until(lambda: _answers(ready_url), 10, "nginx", self.error_log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def reload(self) -> None:
        """Reload (SIGHUP) and wait until a new worker runs and the old ones have
        closed their listening sockets, which they do together with their idle
        upstream connections: the next request opens a new connection upstream."""
        assert self.process is not None
        master = self.process.pid
        old_workers = set(processes_in_group(master)) - {master}

        def reloaded() -> bool:
            workers = set(processes_in_group(master)) - {master}
            listeners = socket_inodes(master) & tcp_inodes(LISTENING)
            return bool(workers - old_workers) and not any(
                socket_inodes(old) & listeners for old in workers & old_workers
            )

        os.kill(master, signal.SIGHUP)
        wait_until(reloaded, 10, "nginx's reload", self.error_log_path)

    def stop(self) -> None:
        terminate(self.process)
        self.process = None


def _answers(url: str) -> bool:
    """nginx is up once it answers at all (its upstream may still be starting)."""
    try:
        return httpx.get(url, timeout=0.5).status_code > 0
    except httpx.HTTPError:
        return False
