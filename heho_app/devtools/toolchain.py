"""Where the project keeps its own tools (bun, PostgREST) and the env Reflex needs."""

import os
from pathlib import Path

from heho_app.settings import PROJECT_ROOT

TOOLS_DIR = PROJECT_ROOT / ".tools"
NODE_BIN = TOOLS_DIR / "node_modules" / ".bin"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads its own
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def reflex_environment() -> dict[str, str]:
    """Variables that keep Reflex and bun inside the project and offline."""
    return {
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "REFLEX_DIR": str(TOOLS_DIR / "reflex"),
        "BUN_INSTALL_CACHE_DIR": str(TOOLS_DIR / "bun-cache"),
        "REFLEX_TELEMETRY_ENABLED": "0",
        "REFLEX_CHECK_LATEST_VERSION": "0",
    }
