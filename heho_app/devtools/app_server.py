"""HeHo itself as a child process (`reflex run --env prod` on one loopback port), for the
end-to-end tests and the benchmarks."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from heho_app.devtools.toolchain import reflex_environment
from heho_app.settings import PROJECT_ROOT


def production_command(port: int) -> list[str]:
    """`reflex run --env prod` serving pages, websocket and API on one loopback port."""
    return [
        sys.executable, "-m", "reflex", "run", "--env", "prod",
        "--frontend-port", str(port), "--backend-port", str(port),
        "--backend-host", "127.0.0.1",
    ]  # fmt: skip


@contextlib.contextmanager
def serve_app(*, port: int, env: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """Run the app with `env` added to this process's environment; yields its URL once
    it serves pages and the API, and stops its whole process group at exit.

    `HEHO_PUBLIC_URL` defaults to the URL (the websocket only accepts that origin).
    """
    url = f"http://127.0.0.1:{port}"
    full_env = {**os.environ, **reflex_environment(), "HEHO_PUBLIC_URL": url, **env}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            production_command(port),
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(url, process, log_path)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def _wait_until_serving(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{log_path.read_text()[-4000:]}")
        try:
            if (
                httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
                and httpx.get(url, timeout=2).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the app did not start in time:\n{log_path.read_text()[-4000:]}")
