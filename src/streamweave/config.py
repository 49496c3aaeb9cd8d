"""One settings object, read once from the environment and passed down.

Environment names are ``STREAMWEAVE_*``; the StreamWeave v0 names (``DATABASE_URL``,
``SECRET_KEY``, ``ARK_NAAN``, ``SMTP_HOST``...) are honoured too so that existing
deployments keep their configuration.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamweave.errors import ConfigurationError
from streamweave.identifiers.ark import ArkError, validate_naan, validate_shoulder

# Values that must never reach production: the placeholders of docs and compose files.
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = Field(
        default="development", validation_alias=_env("STREAMWEAVE_ENV")
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("streamweave", appauthor=False)),
        validation_alias=_env("STREAMWEAVE_DATA_DIR"),
    )
    database_url: str | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_DATABASE_URL", "DATABASE_URL")
    )
    secret_key: str | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_SECRET_KEY", "SECRET_KEY")
    )
    # Comma-separated Fernet keys, newest first: the first encrypts, all decrypt.
    encryption_keys: str | None = Field(
        default=None,
        validation_alias=_env("STREAMWEAVE_ENCRYPTION_KEY", "STREAMWEAVE_ENCRYPTION_KEYS"),
    )
    jwt_lifetime_seconds: int = Field(
        default=3600,
        ge=60,
        validation_alias=_env("STREAMWEAVE_JWT_LIFETIME_SECONDS", "JWT_LIFETIME_SECONDS"),
    )
    allow_registration: bool | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_ALLOW_REGISTRATION")
    )
    allow_password_reveal: bool | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_ALLOW_PASSWORD_REVEAL")
    )
    cookie_secure: bool | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_COOKIE_SECURE")
    )
    public_url: str = Field(
        default="http://localhost:8000", validation_alias=_env("STREAMWEAVE_PUBLIC_URL")
    )
    # Where administrators' browsers reach the Prefect UI (behind the reverse proxy's
    # admin gate); by default the server PREFECT_API_URL names, which suits one machine.
    orchestration_ui_url: str | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_ORCHESTRATION_UI_URL")
    )
    ark_naan: str = Field(
        default="99999", validation_alias=_env("STREAMWEAVE_ARK_NAAN", "ARK_NAAN")
    )
    ark_shoulder: str = Field(
        default="fk4", validation_alias=_env("STREAMWEAVE_ARK_SHOULDER", "ARK_SHOULDER")
    )
    smtp_host: str | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_SMTP_HOST", "SMTP_HOST")
    )
    smtp_port: int = Field(default=587, validation_alias=_env("STREAMWEAVE_SMTP_PORT", "SMTP_PORT"))
    smtp_user: str | None = Field(
        default=None,
        validation_alias=_env("STREAMWEAVE_SMTP_USER", "SMTP_USER", "SMTP_USERNAME"),
    )
    smtp_password: str | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_SMTP_PASSWORD", "SMTP_PASSWORD")
    )
    smtp_from: str = Field(
        default="streamweave@localhost", validation_alias=_env("STREAMWEAVE_SMTP_FROM", "SMTP_FROM")
    )
    smtp_security: Literal["starttls", "tls", "plain"] = Field(
        default="starttls", validation_alias=_env("STREAMWEAVE_SMTP_SECURITY", "SMTP_SECURITY")
    )
    # v0's switches: SMTP_ENABLED=false turns mail off with a host set; SMTP_TLS chose
    # implicit TLS (true) or plain (false) and stands in when SMTP_SECURITY is not given.
    smtp_enabled: bool | None = Field(
        default=None, validation_alias=_env("STREAMWEAVE_SMTP_ENABLED", "SMTP_ENABLED")
    )
    smtp_tls: bool | None = Field(default=None, validation_alias=_env("SMTP_TLS"))
    # Harvest failures of one instrument within this many minutes of its last e-mail are
    # collected into one digest (0: every failure is mailed at once).
    notice_aggregation_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        validation_alias=_env("STREAMWEAVE_NOTICE_AGGREGATION_MINUTES"),
    )
    login_max_failures: int = Field(
        default=5, ge=1, validation_alias=_env("STREAMWEAVE_LOGIN_MAX_FAILURES")
    )
    login_lockout_seconds: int = Field(
        default=60, ge=1, validation_alias=_env("STREAMWEAVE_LOGIN_LOCKOUT_SECONDS")
    )
    # A file that failed this many harvests in a row is flagged and no longer retried
    # until it changes at the source.
    harvest_retry_limit: int = Field(
        default=5, ge=1, le=100, validation_alias=_env("STREAMWEAVE_HARVEST_RETRY_LIMIT")
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("ark_naan")
    @classmethod
    def _naan(cls, value: str) -> str:
        try:
            return validate_naan(value)
        except ArkError as exc:  # pydantic reports a ValueError under the variable's name
            raise ValueError(str(exc)) from None

    @field_validator("ark_shoulder")
    @classmethod
    def _shoulder(cls, value: str) -> str:
        try:
            return validate_shoulder(value)
        except ArkError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _v0_smtp_tls(self) -> Settings:
        if self.smtp_tls is not None and "smtp_security" not in self.model_fields_set:
            self.smtp_security = "tls" if self.smtp_tls else "plain"
        return self

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host) and self.smtp_enabled is not False

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def registration_enabled(self) -> bool:
        return (
            self.allow_registration if self.allow_registration is not None else not self.production
        )

    @property
    def password_reveal_enabled(self) -> bool:
        if self.allow_password_reveal is not None:
            return self.allow_password_reveal
        return not self.production

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.production

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'streamweave.db'}"
        # v0 and most tools write plain driver names; the async engine needs the async driver.
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        elif url.startswith("sqlite:///"):
            url = "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
        return url

    @property
    def fernet_keys(self) -> list[str]:
        assert self.encryption_keys, "settings were not prepared: call prepare_settings()"
        return [key.strip() for key in self.encryption_keys.split(",") if key.strip()]

    @property
    def jwt_secret(self) -> str:
        assert self.secret_key, "settings were not prepared: call prepare_settings()"
        return self.secret_key

    @property
    def encryption_key_file(self) -> Path:
        return self.data_dir / "encryption.keys"


def write_private(path: Path, content: str) -> None:
    """Create ``path`` readable by its owner only; never overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


def _read_or_create(path: Path, generate: str) -> str:
    with contextlib.suppress(FileExistsError):  # made on an earlier start: keep it
        write_private(path, generate)
    return path.read_text().strip()


def _secret_missing(value: str | None) -> bool:
    return value is None or value.strip().lower() in _PLACEHOLDER_SECRETS


def prepare_settings(settings: Settings) -> Settings:
    """Fill in generated secrets (embedded mode) or refuse to run without them (production)."""
    if settings.production:
        problems = []
        if _secret_missing(settings.secret_key):
            problems.append(
                "STREAMWEAVE_SECRET_KEY is missing or a placeholder; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if _secret_missing(settings.encryption_keys):
            problems.append(
                "STREAMWEAVE_ENCRYPTION_KEY is missing or a placeholder; generate one with: "
                "streamweave keys generate"
            )
        if not settings.database_url:
            problems.append(
                "STREAMWEAVE_DATABASE_URL is not set; production needs an explicit database "
                "(e.g. postgresql://user@db/streamweave)"
            )
        if problems:
            raise ConfigurationError(
                "refusing to start in production:\n  - " + "\n  - ".join(problems)
            )
        return settings

    # Private: it holds the database (password hashes, encrypted secrets) and the keys.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _secret_missing(settings.secret_key):
        settings.secret_key = _read_or_create(
            settings.data_dir / "secret.key", secrets.token_urlsafe(48)
        )
    if _secret_missing(settings.encryption_keys):
        settings.encryption_keys = ",".join(
            _read_or_create(settings.encryption_key_file, Fernet.generate_key().decode()).split()
        )
    return settings


def load_settings() -> Settings:
    try:
        return prepare_settings(Settings())
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc
