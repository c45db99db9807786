import os
import stat
import subprocess

import pytest

from heho_app.devtools.app_server import production_command
from heho_app.devtools.processes import free_port
from heho_app.devtools.toolchain import reflex_environment
from heho_app.settings import PROJECT_ROOT, MissingProductionSecrets, Settings


def _without_secrets() -> dict[str, str]:
    env = {**os.environ, **reflex_environment()}
    env.pop("HEHO_SECRET_KEY")
    env.pop("HEHO_ENCRYPTION_KEYS")
    return env


def test_development_generates_secrets_once_in_an_owner_only_file(tmp_path, monkeypatch):
    monkeypatch.delenv("HEHO_SECRET_KEY")
    monkeypatch.delenv("HEHO_ENCRYPTION_KEYS")
    secrets_file = tmp_path / "dev-secrets.json"
    monkeypatch.setenv("HEHO_DEV_SECRETS_FILE", str(secrets_file))

    first = Settings()
    second = Settings()

    assert first.secret_key and first.encryption_keys.startswith("dev1:")
    assert (first.secret_key, first.encryption_keys) == (second.secret_key, second.encryption_keys)
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600


def test_production_settings_name_what_is_missing(monkeypatch):
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    monkeypatch.delenv("HEHO_ENCRYPTION_KEYS")
    with pytest.raises(MissingProductionSecrets, match="without HEHO_ENCRYPTION_KEYS"):
        Settings()


def test_reflex_run_in_production_refuses_to_start_without_secrets():
    result = subprocess.run(
        production_command(free_port()),
        cwd=PROJECT_ROOT,
        env=_without_secrets(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "HEHO_SECRET_KEY and HEHO_ENCRYPTION_KEYS" in output
