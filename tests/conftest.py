"""Test-wide set-up: HeHo points at a throwaway database and test secrets.

The environment is set before any HeHo module reads its settings.
"""

import base64
import os
import tempfile
from pathlib import Path

TEST_ROOT = Path(tempfile.mkdtemp(prefix="heho-tests-"))
TEST_ENCRYPTION_KEY = base64.b64encode(b"k" * 32).decode()

os.environ.update(
    {
        "REFLEX_DB_URL": f"sqlite:///{TEST_ROOT / 'heho.db'}",
        "HEHO_SECRET_KEY": "test-secret-key-" + "x" * 40,
        "HEHO_ENCRYPTION_KEYS": f"test1:{TEST_ENCRYPTION_KEY}",
        "HEHO_OUTBOX_DIR": str(TEST_ROOT / "outbox"),
        "HEHO_DEV_SECRETS_FILE": str(TEST_ROOT / "dev-secrets.json"),
    }
)
os.environ.pop("REFLEX_REDIS_URL", None)
os.environ.pop("HEHO_SMTP_URL", None)

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.app_server", "tests.fixtures.mail"]
