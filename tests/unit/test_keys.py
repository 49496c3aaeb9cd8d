"""Encryption key rotation (service and CLI) and the user commands of the CLI."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from streamweave.config import Settings, prepare_settings
from streamweave.crypto import SecretBox, generate_key
from streamweave.db.engine import create_engine, create_sessionmaker
from streamweave.db.models import AuditLog, HookConfig, Instrument, ServiceAccount, StorageLocation
from streamweave.errors import ConfigurationError
from streamweave.services import lab
from streamweave.services.keys import reencrypt_all
from tests.conftest import postgres_database

Json = dict[str, Any]

S3_SECRETS = {"access_key_id": "AKIAROTATE", "secret_access_key": "rotate-me-secret"}
EXPECTED = {
    "service_account": "service-account-password",
    "storage": S3_SECRETS,
    "instrument": {"password": "sftp-password"},
    "hook": "webhook-signing-secret-0123",
}


async def _read_secrets(session: Any, box: SecretBox) -> dict[str, Any]:
    """Every stored secret, decrypted with ``box`` (so: with its keys only)."""
    account = (await session.scalars(select(ServiceAccount))).one()
    location = (
        await session.scalars(select(StorageLocation).where(StorageLocation.type == "s3"))
    ).one()
    source = (
        await session.scalars(select(Instrument).where(Instrument.source_type == "sftp"))
    ).one()
    hook = (
        await session.scalars(select(HookConfig).where(HookConfig.webhook_secret.is_not(None)))
    ).one()
    return {
        "service_account": box.decrypt(account.password_encrypted),
        "storage": box.decrypt_json(location.secrets),
        "instrument": box.decrypt_json(source.source_secrets),
        "hook": box.decrypt(hook.webhook_secret),
    }


async def _ciphertexts(session: Any) -> dict[tuple[str, uuid.UUID], str | None]:
    """Every encrypted column of every row, by (table, id)."""
    found: dict[tuple[str, uuid.UUID], str | None] = {}
    for model, column in (
        (ServiceAccount, "password_encrypted"),
        (StorageLocation, "secrets"),
        (Instrument, "source_secrets"),
        (HookConfig, "webhook_secret"),
    ):
        for row in (await session.scalars(select(model))).all():
            found[(model.__tablename__, row.id)] = getattr(row, column)
    return found


# --- the rotation service --------------------------------------------------------------


async def _store_secrets_through_the_api(client: httpx.AsyncClient, admin: Json) -> None:
    headers = admin["headers"]
    bodies = [
        (
            "/api/service-accounts",
            {"name": "svc", "username": "harvester", "password": EXPECTED["service_account"]},
        ),
        (
            "/api/storage-locations",
            {
                "name": "bucket",
                "type": "s3",
                "connection_config": {"bucket": "lab-data", **S3_SECRETS},
            },
        ),
        ("/api/storage-locations", {"name": "disk", "type": "posix", "base_path": "/srv/archive"}),
        (
            "/api/instruments",
            {
                "name": "sequencer",
                "source_type": "sftp",
                "source_config": {
                    "host": "seq.example.org",
                    "username": "u",
                    "password": "sftp-password",
                },
            },
        ),
        ("/api/instruments", {"name": "scope", "cifs_host": "files", "cifs_share": "data"}),
        (
            "/api/hooks",
            {
                "name": "notify",
                "trigger": "post_transfer",
                "implementation": "http_webhook",
                "webhook_url": "https://hooks.example.org/in",
                "webhook_secret": EXPECTED["hook"],
            },
        ),
    ]
    for url, body in bodies:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 201, response.text


async def test_rotation_reencrypts_every_secret_under_the_new_key(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    await _store_secrets_through_the_api(client, admin)
    context = app.state.context
    old_keys = context.settings.fernet_keys
    new_key = generate_key()
    async with context.sessionmaker() as session:
        assert await _read_secrets(session, SecretBox(old_keys)) == EXPECTED
        before = await _ciphertexts(session)

    async with context.sessionmaker() as session:
        report = await reencrypt_all(session, SecretBox([new_key, *old_keys]))
    # Rows without a secret (the posix location, the SMB instrument) are left alone.
    assert report.per_table == {
        "service_accounts": 1,
        "instruments": 1,
        "storage_locations": 1,
        "hook_configs": 1,
    }
    assert report.rows == 4

    async with context.sessionmaker() as session:
        assert await _read_secrets(session, SecretBox([new_key])) == EXPECTED
        after = await _ciphertexts(session)
        with pytest.raises(ConfigurationError):
            await _read_secrets(session, SecretBox(old_keys))
        logged = (await session.scalars(select(AuditLog).where(AuditLog.action == "rotate"))).all()
    assert [entry.entity_type for entry in logged] == ["encryption_keys"]
    assert after.keys() == before.keys()
    for key, ciphertext in after.items():
        assert (ciphertext is None) == (before[key] is None), key
        assert ciphertext is None or ciphertext != before[key], key
    # The API, given the new key first, still reads and masks everything.
    context.secrets = SecretBox([new_key])
    reveal = await client.get("/api/service-accounts", headers=admin["headers"])
    account_id = reveal.json()["items"][0]["id"]
    password = await client.get(
        f"/api/service-accounts/{account_id}/password", headers=admin["headers"]
    )
    assert password.json() == {"password": EXPECTED["service_account"]}


async def test_rotation_is_all_or_nothing(client: httpx.AsyncClient, app: Any, admin: Json) -> None:
    await _store_secrets_through_the_api(client, admin)
    context = app.state.context
    # A secret written under a key that is no longer configured cannot be rotated...
    stranger = SecretBox([generate_key()])
    async with context.sessionmaker() as session:
        await lab.create_service_account(
            session,
            stranger,
            None,
            {"name": "orphan", "username": "u", "password": "lost"},  # type: ignore[arg-type]
        )
    async with context.sessionmaker() as session:
        before = await _ciphertexts(session)
    async with context.sessionmaker() as session:
        with pytest.raises(ConfigurationError, match="cannot be decrypted"):
            await reencrypt_all(session, SecretBox([generate_key(), *context.settings.fernet_keys]))
    # ...and then nothing at all is rewritten.
    async with context.sessionmaker() as session:
        assert await _ciphertexts(session) == before
        assert (
            await session.scalars(select(AuditLog).where(AuditLog.action == "rotate"))
        ).all() == []


# --- the command line ------------------------------------------------------------------

STREAMWEAVE = Path(sys.executable).with_name("streamweave")
SETTINGS_VARIABLES = [
    name
    for field in Settings.model_fields.values()
    for name in getattr(field.validation_alias, "choices", [])
]


@pytest.fixture
def cli_env(tmp_path: Path, backend: str) -> Iterator[dict[str, str]]:
    """A hermetic environment for the CLI: embedded mode in a fresh data directory, on
    SQLite in that directory or on a fresh PostgreSQL database."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env["STREAMWEAVE_DATA_DIR"] = str(tmp_path / "data")
    env["COLUMNS"] = "200"  # rich tables are not cut to a narrow terminal
    if backend == "sqlite":
        yield env
        return
    with postgres_database("sw_cli") as url:
        env["STREAMWEAVE_DATABASE_URL"] = url
        yield env


def cli(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(STREAMWEAVE), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings(env: dict[str, str]) -> Settings:
    """What the CLI reads from ``env``, read the same way in this process."""
    return prepare_settings(
        Settings(
            data_dir=Path(env["STREAMWEAVE_DATA_DIR"]),
            database_url=env.get("STREAMWEAVE_DATABASE_URL"),
            encryption_keys=env.get("STREAMWEAVE_ENCRYPTION_KEY"),
        )
    )


async def _store_secrets(settings: Settings) -> None:
    engine = create_engine(settings.sqlalchemy_url)
    box = SecretBox(settings.fernet_keys)
    try:
        async with create_sessionmaker(engine)() as session:
            actor: Any = None
            await lab.create_service_account(
                session,
                box,
                actor,
                {"name": "svc", "username": "harvester", "password": EXPECTED["service_account"]},
            )
            await lab.create_storage(
                session,
                box,
                actor,
                {
                    "name": "bucket",
                    "type": "s3",
                    "connection_config": {"bucket": "lab-data", **S3_SECRETS},
                },
            )
            await lab.create_instrument(
                session,
                box,
                actor,
                {
                    "name": "sequencer",
                    "source_type": "sftp",
                    "source_config": {"host": "seq", "username": "u", "password": "sftp-password"},
                },
                {"mode": "none"},
            )
            await lab.create_hook(
                session,
                box,
                actor,
                {
                    "name": "notify",
                    "trigger": "post_transfer",
                    "implementation": "http_webhook",
                    "webhook_url": "https://hooks.example.org/in",
                    "webhook_secret": EXPECTED["hook"],
                },
            )
    finally:
        await engine.dispose()


async def _decrypt_all(settings: Settings, keys: list[str]) -> dict[str, Any]:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await _read_secrets(session, SecretBox(keys))
    finally:
        await engine.dispose()


def test_cli_keys_rotate_in_embedded_mode(cli_env: dict[str, str]) -> None:
    migrated = cli(cli_env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    settings = _settings(cli_env)
    key_file = Path(cli_env["STREAMWEAVE_DATA_DIR"]) / "encryption.keys"
    old_keys = key_file.read_text().split()
    assert len(old_keys) == 1
    asyncio.run(_store_secrets(settings))

    rotated = cli(cli_env, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "re-encrypted 4 secrets" in rotated.stdout
    keys = key_file.read_text().split()
    assert len(keys) == 2 and keys[1:] == old_keys and keys[0] not in old_keys
    Fernet(keys[0].encode())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir() if p.suffix == ".tmp") == []
    # The new key alone reads every secret, unchanged; the old key alone reads none.
    assert asyncio.run(_decrypt_all(settings, [keys[0]])) == EXPECTED
    with pytest.raises(ConfigurationError):
        asyncio.run(_decrypt_all(settings, old_keys))

    # Again: a third key goes first, and everything moves to it.
    again = cli(cli_env, "keys", "rotate")
    assert again.returncode == 0, again.stderr
    newest = key_file.read_text().split()
    assert newest[1:] == keys and len(newest) == 3
    assert asyncio.run(_decrypt_all(settings, [newest[0]])) == EXPECTED


def test_cli_keys_rotate_with_keys_from_the_environment(cli_env: dict[str, str]) -> None:
    """With STREAMWEAVE_ENCRYPTION_KEY the operator puts the new key first; the CLI
    re-encrypts and leaves the key file alone."""
    old, new = generate_key(), generate_key()
    env = {**cli_env, "STREAMWEAVE_ENCRYPTION_KEY": old}
    assert cli(env, "migrate").returncode == 0
    asyncio.run(_store_secrets(_settings(env)))
    rotated = cli({**env, "STREAMWEAVE_ENCRYPTION_KEY": f"{new},{old}"}, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert asyncio.run(_decrypt_all(_settings(env), [new])) == EXPECTED
    assert not (Path(env["STREAMWEAVE_DATA_DIR"]) / "encryption.keys").exists()


def test_cli_keys_generate_prints_a_fernet_key(cli_env: dict[str, str]) -> None:
    result = cli(cli_env, "keys", "generate")
    assert result.returncode == 0, result.stderr
    Fernet(result.stdout.strip().encode())


def test_cli_users_create_and_list(cli_env: dict[str, str]) -> None:
    created = cli(
        cli_env,
        "users",
        "create",
        "Root@Example.org",
        "--admin",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created admin" in created.stdout
    plain = cli(
        cli_env,
        "users",
        "create",
        "someone@example.org",
        "--password-stdin",
        stdin="another password\n",
    )
    assert plain.returncode == 0, plain.stderr

    listed = cli(cli_env, "users", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[1].lower(): line for line in listed.stdout.splitlines() if "@" in line}
    assert set(lines) == {"root@example.org", "someone@example.org"}
    assert "admin" in lines["root@example.org"] and "active" in lines["root@example.org"]
    assert " user " in lines["someone@example.org"]

    duplicate = cli(
        cli_env, "users", "create", "root@example.org", "--password-stdin", stdin="whatever pw\n"
    )
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    short = cli(cli_env, "users", "create", "x@example.org", "--password-stdin", stdin="short\n")
    assert short.returncode != 0
    assert "password" in short.stderr.lower()
    empty = cli(cli_env, "users", "create", "y@example.org", "--password-stdin", stdin="\n")
    assert empty.returncode == 2
    invalid = cli(
        cli_env, "users", "create", "not-an-address", "--password-stdin", stdin="long password\n"
    )
    assert invalid.returncode == 2

    # The account works: its password logs in through the API.
    async def login() -> int:
        from streamweave.api.app import create_app

        app = create_app(_settings(cli_env))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                response = await http.post(
                    "/auth/jwt/login",
                    data={"username": "root@example.org", "password": "a long enough password"},
                )
                return response.status_code
        finally:
            await app.state.context.engine.dispose()

    assert asyncio.run(login()) == 200


def test_cli_keys_rotate_refuses_a_secret_it_cannot_read(cli_env: dict[str, str]) -> None:
    assert cli(cli_env, "migrate").returncode == 0
    settings = _settings(cli_env)
    asyncio.run(_store_secrets(settings))
    key_file = Path(cli_env["STREAMWEAVE_DATA_DIR"]) / "encryption.keys"
    keys = key_file.read_text()

    async def orphan() -> None:
        engine = create_engine(settings.sqlalchemy_url)
        try:
            async with create_sessionmaker(engine)() as session:
                actor: Any = None
                stranger = SecretBox([generate_key()])
                data = {"name": "orphan", "username": "u", "password": "lost"}
                await lab.create_service_account(session, stranger, actor, data)
        finally:
            await engine.dispose()

    asyncio.run(orphan())
    result = cli(cli_env, "keys", "rotate")
    assert result.returncode == 1
    assert "cannot be decrypted" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing moved: same key file, every readable secret still under the old key.
    assert key_file.read_text() == keys
    engine_keys = keys.split()

    async def readable() -> str:
        engine = create_engine(settings.sqlalchemy_url)
        try:
            async with create_sessionmaker(engine)() as session:
                account = (
                    await session.scalars(
                        select(ServiceAccount).where(ServiceAccount.name == "svc")
                    )
                ).one()
                return SecretBox(engine_keys).decrypt(account.password_encrypted)
        finally:
            await engine.dispose()

    assert asyncio.run(readable()) == EXPECTED["service_account"]
