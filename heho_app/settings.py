"""HeHo's settings: every environment variable the app reads is named here.

In development, a secret key and an encryption key are generated once and kept in
an owner-only file under `.heho/`. In production (`REFLEX_ENV_MODE=prod`, which
`reflex run --env prod` sets) both must come from the environment.
"""

import base64
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRETS_FILE = PROJECT_ROOT / ".heho" / "dev-secrets.json"
PRODUCTION_REQUIRED = ("HEHO_SECRET_KEY", "HEHO_ENCRYPTION_KEYS")


class MissingProductionSecrets(RuntimeError):
    """Production was asked for without the secrets it cannot run without."""


def is_production() -> bool:
    return os.environ.get("REFLEX_ENV_MODE", "dev").lower() == "prod"


def _load_or_create_dev_secrets(path: Path) -> dict[str, str]:
    """Generate the development secrets once; later runs read the same file."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    values = {
        "HEHO_SECRET_KEY": secrets.token_urlsafe(48),
        "HEHO_ENCRYPTION_KEYS": f"dev1:{key}",
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    db_url: str = Field(default="sqlite:///heho.db", alias="REFLEX_DB_URL")
    redis_url: str | None = Field(default=None, alias="REFLEX_REDIS_URL")
    secret_key: str = Field(default="", alias="HEHO_SECRET_KEY")
    encryption_keys: str = Field(default="", alias="HEHO_ENCRYPTION_KEYS")
    public_url: str = Field(default="http://localhost:3000", alias="HEHO_PUBLIC_URL")
    smtp_url: str | None = Field(default=None, alias="HEHO_SMTP_URL")
    smtp_from: str = Field(default="HeHo <no-reply@heho.local>", alias="HEHO_SMTP_FROM")
    outbox_dir: Path = Field(default=PROJECT_ROOT / ".heho" / "outbox", alias="HEHO_OUTBOX_DIR")
    openrouter_base_url: str = Field(
        default="https://openrouter.ai/api/v1", alias="OPENROUTER_BASE_URL"
    )
    app_title: str = Field(default="HeHo", alias="HEHO_APP_TITLE")
    idle_timeout_minutes: int = Field(default=30, ge=1, alias="HEHO_IDLE_TIMEOUT_MINUTES")
    session_days: int = Field(default=7, ge=1, alias="HEHO_SESSION_DAYS")
    log_retention_days: int = Field(default=90, ge=1, alias="HEHO_LOG_RETENTION_DAYS")
    api_rate_limit_per_minute: int = Field(default=60, ge=1, alias="HEHO_API_RATE_LIMIT")
    # Reverse proxies in front of HeHo that append to X-Forwarded-For; 0 trusts none.
    trusted_proxy_hops: int = Field(default=0, ge=0, alias="HEHO_TRUSTED_PROXY_HOPS")
    # Rate limits of the account endpoints, in the `limits` package's notation
    # ("5/minute", "10 per hour"); one for each account (email) and one for each
    # client address.
    login_limit_account: str = Field(default="10/15 minutes", alias="HEHO_LOGIN_LIMIT_ACCOUNT")
    login_limit_address: str = Field(default="30/15 minutes", alias="HEHO_LOGIN_LIMIT_ADDRESS")
    signup_limit_account: str = Field(default="3/hour", alias="HEHO_SIGNUP_LIMIT_ACCOUNT")
    signup_limit_address: str = Field(default="10/hour", alias="HEHO_SIGNUP_LIMIT_ADDRESS")
    resend_limit_account: str = Field(default="3/hour", alias="HEHO_RESEND_LIMIT_ACCOUNT")
    resend_limit_address: str = Field(default="10/hour", alias="HEHO_RESEND_LIMIT_ADDRESS")
    reset_limit_account: str = Field(default="3/hour", alias="HEHO_RESET_LIMIT_ACCOUNT")
    reset_limit_address: str = Field(default="10/hour", alias="HEHO_RESET_LIMIT_ADDRESS")
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, alias="HEHO_API_MAX_BODY_BYTES")
    dev_secrets_file: Path = Field(default=DEV_SECRETS_FILE, alias="HEHO_DEV_SECRETS_FILE")

    @model_validator(mode="after")
    def _fill_secrets(self) -> "Settings":
        if self.secret_key and self.encryption_keys:
            return self
        if is_production():
            missing = [
                name
                for name, value in zip(
                    PRODUCTION_REQUIRED, (self.secret_key, self.encryption_keys), strict=True
                )
                if not value
            ]
            raise MissingProductionSecrets(
                "HeHo refuses to start in production without "
                + " and ".join(missing)
                + ". Set them in the environment (see README.md, 'Configuration')."
            )
        generated = _load_or_create_dev_secrets(self.dev_secrets_file)
        self.secret_key = self.secret_key or generated["HEHO_SECRET_KEY"]
        self.encryption_keys = self.encryption_keys or generated["HEHO_ENCRYPTION_KEYS"]
        return self

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")


def get_settings() -> Settings:
    """The settings for the current mode.

    Reflex reads rxconfig before it switches to production mode, so the cache is
    keyed by mode: production is validated on its own, never served from a
    development instance.
    """
    return _settings_for_mode(is_production())


@lru_cache
def _settings_for_mode(production: bool) -> Settings:
    return Settings()
