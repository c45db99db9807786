"""Test-wide set-up: HeHo points at a throwaway database and test secrets.

The environment is set before any HeHo module reads its settings.
"""

import base64
import os
import tempfile
from pathlib import Path

from heho_app.devtools.processes import free_port

TEST_ROOT = Path(tempfile.mkdtemp(prefix="heho-tests-"))
TEST_ENCRYPTION_KEY = base64.b64encode(b"k" * 32).decode()


# The local OpenRouter listens here for the whole run (tests/fixtures/chat.py), so
# that both the tests and the app under test reach it through the one setting.
FAKE_OPENROUTER_PORT = free_port()

os.environ.update(
    {
        "REFLEX_DB_URL": f"sqlite:///{TEST_ROOT / 'heho.db'}",
        "HEHO_SECRET_KEY": "test-secret-key-" + "x" * 40,
        "HEHO_ENCRYPTION_KEYS": f"test1:{TEST_ENCRYPTION_KEY}",
        "HEHO_OUTBOX_DIR": str(TEST_ROOT / "outbox"),
        "HEHO_DEV_SECRETS_FILE": str(TEST_ROOT / "dev-secrets.json"),
        "OPENROUTER_BASE_URL": f"http://127.0.0.1:{FAKE_OPENROUTER_PORT}/api/v1",
    }
)
os.environ.pop("REFLEX_REDIS_URL", None)
os.environ.pop("HEHO_SMTP_URL", None)

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app_server",
    "tests.fixtures.mail",
    "tests.fixtures.supabase",
    "tests.fixtures.chat",
    "tests.fixtures.deployment",
    "tests.fixtures.redis",
]
