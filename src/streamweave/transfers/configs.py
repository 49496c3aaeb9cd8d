"""Connection settings per kind of location, shared by instrument sources and storage.

Each kind is a pydantic model; its secret fields are split off, encrypted at rest and
masked as ``****`` on the way out. A ``****`` sent back keeps the stored secret.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from streamweave.crypto import MASK
from streamweave.errors import InvalidInput

SECRET_FIELDS = frozenset(
    {"password", "access_key_id", "secret_access_key", "private_key", "key_passphrase"}
)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_dotdot(value: str | None) -> str | None:
    if value is not None and ".." in value.replace("\\", "/").split("/"):
        raise ValueError("'..' is not allowed in a path")
    return value


class PosixConfig(_Config):
    pass


class NfsConfig(_Config):
    host: str = Field(min_length=1)
    export_path: str = Field(min_length=1)
    mount_options: str | None = None

    _paths = field_validator("export_path")(_no_dotdot)


class CifsConfig(_Config):
    host: str = Field(min_length=1)
    port: int = Field(default=445, ge=1, le=65535)
    share: str = Field(min_length=1)
    domain: str | None = None
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class S3Config(_Config):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
    region: str = "us-east-1"
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    access_key_id: str = Field(min_length=1)
    secret_access_key: str = Field(min_length=1)
    path_style: bool = False
    prefix: str | None = None

    _paths = field_validator("prefix")(_no_dotdot)


class SftpConfig(_Config):
    host: str = Field(min_length=1)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: str | None = None
    private_key: str | None = None
    key_passphrase: str | None = None
    host_key: str | None = Field(
        default=None, description="Pinned host key ('ssh-ed25519 AAAA...'); refuse others"
    )
    path: str | None = None

    _paths = field_validator("path")(_no_dotdot)


class WebdavConfig(_Config):
    url: str = Field(pattern=r"^https?://")
    vendor: Literal["other", "nextcloud", "owncloud", "sharepoint"] = "other"
    username: str | None = None
    password: str | None = None
    path: str | None = None

    _paths = field_validator("path")(_no_dotdot)


class LocalSourceConfig(_Config):
    path: str

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        _no_dotdot(value)
        if not value.startswith("/"):
            raise ValueError("must be an absolute path")
        return value


STORAGE_CONFIGS: dict[str, type[_Config]] = {
    "posix": PosixConfig,
    "nfs": NfsConfig,
    "cifs": CifsConfig,
    "s3": S3Config,
    "sftp": SftpConfig,
    "webdav": WebdavConfig,
}

# A cifs source keeps its connection in the v0 instrument columns (cifs_host, ...).
SOURCE_CONFIGS: dict[str, type[_Config]] = {
    "cifs": PosixConfig,
    "local": LocalSourceConfig,
    "sftp": SftpConfig,
    "s3": S3Config,
    "webdav": WebdavConfig,
}


def _errors(kind: str, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        parts.append(f"{where}: {error['msg']}")
    return f"invalid {kind} connection config: " + "; ".join(parts)


def split_config(
    kinds: dict[str, type[_Config]],
    kind: str,
    raw: dict[str, Any] | None,
    stored_secrets: dict[str, Any] | None = None,
    *,
    field: str = "connection_config",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate ``raw`` for ``kind``; return (plain fields, secret fields).

    A secret sent as ``****`` is replaced by the stored one, so a client that read a
    masked config can send it back unchanged.
    """
    model = kinds.get(kind)
    if model is None:
        raise InvalidInput(f"unknown type {kind!r}; expected one of {', '.join(sorted(kinds))}")
    values = dict(raw or {})
    stored_secrets = stored_secrets or {}
    for key, value in list(values.items()):
        if key in SECRET_FIELDS and value == MASK:
            if key not in stored_secrets:
                raise InvalidInput(
                    f"{field}.{key}: '****' keeps a stored secret, but none is stored"
                )
            values[key] = stored_secrets[key]
    try:
        parsed = model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(f"{field}: " + _errors(kind, exc)) from None
    data = parsed.model_dump(exclude_none=True)
    secrets = {k: v for k, v in data.items() if k in SECRET_FIELDS}
    plain = {k: v for k, v in data.items() if k not in SECRET_FIELDS}
    return plain, secrets


def masked(plain: dict[str, Any], secrets: dict[str, Any] | list[str]) -> dict[str, Any]:
    """The config as clients see it: secrets present but masked."""
    return {**plain, **{key: MASK for key in secrets}}
