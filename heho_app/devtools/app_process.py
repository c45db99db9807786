"""HeHo itself as `reflex run --env prod`, started and stopped by tests and benchmarks."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from heho_app.devtools.processes import StartupError, terminate
from heho_app.devtools.toolchain import reflex_environment
from heho_app.settings import PROJECT_ROOT


def start_app(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`reflex run --env prod` on 127.0.0.1:`port` (pages, `/_event` and the API on one port).

    `env` is added to this process's environment and Reflex's toolchain variables.
    Returns once the app serves both a page and `/api/v1/health`.
    """
    full_env = {**os.environ, **reflex_environment(), **env}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "reflex", "run", "--env", "prod",
             "--frontend-port", str(port), "--backend-port", str(port),
             "--backend-host", "127.0.0.1"],
            cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}", process, log_path)
    except BaseException:
        stop_app(process)
        raise
    return process


def stop_app(process: subprocess.Popen) -> None:
    """Stop the app and its workers (one process group)."""
    terminate(process, timeout=15)


def _wait_until_serving(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartupError(f"the app exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if (
                httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
                and httpx.get(url, timeout=2).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise StartupError(f"the app did not start in time:\n{log_path.read_text()[-4000:]}")
