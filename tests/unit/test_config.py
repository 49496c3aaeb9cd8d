"""Settings: environment names (ours and StreamWeave v0's), generated secrets, production."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from streamweave.config import Settings, load_settings, prepare_settings
from streamweave.crypto import SecretBox
from streamweave.errors import ConfigurationError

# Every variable Settings reads, so that the machine's environment cannot leak in.
SETTINGS_VARIABLES = [
    name
    for field in Settings.model_fields.values()
    for name in getattr(field.validation_alias, "choices", [])
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("STREAMWEAVE_DATA_DIR", str(data_dir))
    return data_dir


def test_the_variables_of_streamweave_v0_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DATABASE_URL", "postgresql://sw:pw@db.example.org:5432/streamweave")
    monkeypatch.setenv("SECRET_KEY", "a-real-jwt-secret-of-some-length")
    monkeypatch.setenv("STREAMWEAVE_ENCRYPTION_KEY", key)
    monkeypatch.setenv("ARK_NAAN", "12345")
    monkeypatch.setenv("ARK_SHOULDER", "b7")
    monkeypatch.setenv("SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("JWT_LIFETIME_SECONDS", "7200")
    settings = load_settings()
    assert settings.database_url == "postgresql://sw:pw@db.example.org:5432/streamweave"
    assert settings.sqlalchemy_url == "postgresql+asyncpg://sw:pw@db.example.org:5432/streamweave"
    assert settings.jwt_secret == "a-real-jwt-secret-of-some-length"
    assert settings.fernet_keys == [key]
    assert (settings.ark_naan, settings.ark_shoulder) == ("12345", "b7")
    assert (settings.smtp_host, settings.smtp_port) == ("mail.example.org", 2525)
    assert settings.jwt_lifetime_seconds == 7200
    # Given secrets are used as they are: nothing is generated next to them.
    assert not (settings.data_dir / "secret.key").exists()
    assert not (settings.data_dir / "encryption.keys").exists()


def test_streamweave_names_win_over_the_v0_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://old/db")
    monkeypatch.setenv("STREAMWEAVE_DATABASE_URL", "postgresql://new/db")
    monkeypatch.setenv("ARK_NAAN", "11111")
    monkeypatch.setenv("STREAMWEAVE_ARK_NAAN", "22222")
    settings = Settings()
    assert settings.database_url == "postgresql://new/db"
    assert settings.ark_naan == "22222"


def test_several_encryption_keys_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("STREAMWEAVE_ENCRYPTION_KEY", f"{new}, {old},")
    settings = load_settings()
    assert settings.fernet_keys == [new, old]
    token = SecretBox([old]).encrypt("kept")
    box = SecretBox(settings.fernet_keys)
    assert box.decrypt(token) == "kept"
    assert SecretBox([new]).decrypt(box.encrypt("x")) == "x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+asyncpg://u:p@h:5432/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:////var/lib/sw.db", "sqlite+aiosqlite:////var/lib/sw.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_the_async_driver(
    monkeypatch: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    assert Settings().sqlalchemy_url == expected


def test_embedded_default_is_sqlite_in_the_data_directory(clean_environment: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == clean_environment.resolve()
    assert (
        settings.sqlalchemy_url
        == f"sqlite+aiosqlite:///{clean_environment.resolve() / 'streamweave.db'}"
    )
    assert settings.production is False
    assert settings.registration_enabled is True


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_embedded_mode_generates_private_secrets_and_reuses_them(clean_environment: Path) -> None:
    first = load_settings()
    secret_file = clean_environment / "secret.key"
    keys_file = clean_environment / "encryption.keys"
    assert secret_file.is_file() and keys_file.is_file()
    assert _mode(secret_file) == 0o600
    assert _mode(keys_file) == 0o600
    assert first.jwt_secret == secret_file.read_text().strip()
    assert len(first.jwt_secret) >= 48
    assert first.fernet_keys == keys_file.read_text().split()
    SecretBox(first.fernet_keys)  # a valid Fernet key
    second = load_settings()
    assert (second.jwt_secret, second.fernet_keys) == (first.jwt_secret, first.fernet_keys)
    assert sorted(p.name for p in clean_environment.iterdir()) == ["encryption.keys", "secret.key"]


def test_embedded_mode_reads_every_key_of_a_rotated_key_file(clean_environment: Path) -> None:
    keys = [Fernet.generate_key().decode() for _ in range(3)]
    clean_environment.mkdir(parents=True)
    (clean_environment / "encryption.keys").write_text("\n".join(keys) + "\n")
    assert load_settings().fernet_keys == keys


def test_a_placeholder_secret_is_replaced_outside_production(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    monkeypatch.setenv("SECRET_KEY", "changeme")
    settings = load_settings()
    assert settings.jwt_secret != "changeme"
    assert settings.jwt_secret == (clean_environment / "secret.key").read_text().strip()


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWEAVE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql://sw@db/streamweave")
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("STREAMWEAVE_ENCRYPTION_KEY", Fernet.generate_key().decode())


def test_production_starts_with_real_secrets(
    monkeypatch: pytest.MonkeyPatch, clean_environment: Path
) -> None:
    _production(monkeypatch)
    settings = load_settings()
    assert settings.production
    assert settings.registration_enabled is False
    assert settings.password_reveal_enabled is False
    assert settings.secure_cookies is True
    assert not clean_environment.exists(), "production never writes generated secrets"


@pytest.mark.parametrize(
    ("variable", "value", "advice"),
    [
        ("SECRET_KEY", None, "secrets.token_urlsafe"),
        ("SECRET_KEY", "changeme", "secrets.token_urlsafe"),
        ("SECRET_KEY", "  Secret ", "secrets.token_urlsafe"),
        ("STREAMWEAVE_ENCRYPTION_KEY", None, "streamweave keys generate"),
        ("STREAMWEAVE_ENCRYPTION_KEY", "change-me", "streamweave keys generate"),
        ("DATABASE_URL", None, "postgresql://"),
    ],
)
def test_production_refuses_missing_or_placeholder_settings(
    monkeypatch: pytest.MonkeyPatch,
    clean_environment: Path,
    variable: str,
    value: str | None,
    advice: str,
) -> None:
    _production(monkeypatch)
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    assert "refusing to start in production" in message
    assert advice in message
    assert not clean_environment.exists()


def test_production_lists_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWEAVE_ENV", "production")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    message = str(raised.value)
    for name in (
        "STREAMWEAVE_SECRET_KEY",
        "STREAMWEAVE_ENCRYPTION_KEY",
        "STREAMWEAVE_DATABASE_URL",
    ):
        assert name in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_LIFETIME_SECONDS", "10"),
        ("JWT_LIFETIME_SECONDS", "an hour"),
        ("STREAMWEAVE_ENV", "staging"),
        ("SMTP_PORT", "smtp"),
    ],
)
def test_invalid_values_are_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match="invalid configuration"):
        load_settings()


def test_an_invalid_encryption_key_says_how_to_make_one() -> None:
    with pytest.raises(ConfigurationError, match="streamweave keys generate"):
        SecretBox(["not-a-fernet-key"])
    with pytest.raises(ConfigurationError, match="STREAMWEAVE_ENCRYPTION_KEY"):
        SecretBox([])


def test_explicit_settings_are_prepared_in_place(tmp_path: Path) -> None:
    settings = prepare_settings(Settings(env="test", data_dir=tmp_path / "d"))
    assert settings.fernet_keys and settings.jwt_secret
    assert os.path.exists(tmp_path / "d" / "encryption.keys")


def test_a_schedule_defaults_to_the_server_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamweave.services.validation import server_timezone

    monkeypatch.setenv("TZ", "Europe/Paris")
    assert server_timezone() == "Europe/Paris"
    monkeypatch.setenv("TZ", "Etc/UTC")
    assert server_timezone() == "UTC"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert server_timezone() != "Not/AZone"  # the system's zone, or UTC
