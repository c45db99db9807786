"""Small helpers for the local servers the development tools start and stop."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


class StartupError(RuntimeError):
    """A local server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_in_group(pgid: int) -> list[int]:
    """Live process ids whose process group is `pgid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process `pid` holds open (Linux /proc)."""
    inodes = set()
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for descriptor in descriptors:
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


ESTABLISHED, LISTENING = "01", "0A"  # TCP states as /proc/net/tcp writes them


def tcp_inodes(state: str, local_port: int | None = None) -> set[int]:
    """Inodes of IPv4 TCP sockets in `state`, on `local_port` if given (Linux /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        port = int(fields[1].rsplit(":", 1)[1], 16)
        if fields[3] == state and local_port in (None, port):
            inodes.add(int(fields[9]))
    return inodes


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll `check` until it is true; on timeout say what and show the end of `log`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise StartupError(f"{what} did not become ready within {timeout:.0f} s\n{tail}".rstrip())


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def terminate(process: subprocess.Popen | None, timeout: float = 5) -> None:
    """SIGTERM the process group a `start_new_session` child leads; SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
