"""Real file servers on loopback that serve a dataset: Samba, and rclone's S3, SFTP, WebDAV.

Every server offers the same two areas, so a test can swap protocols freely:

- ``instrument``: the dataset, read-only (an instrument share is never written to);
  an SMB share, an S3 bucket, or a top-level directory for SFTP and WebDAV.
- ``archive``: a writable directory, for local -> remote transfers.

Each server runs on a free high port with throwaway credentials, gets a private
temporary directory (removed on stop) and never sees a secret in its argv: Samba reads
the password from stdin, rclone from ``RCLONE_*`` environment variables. A server is
ready only when a real listing through its protocol has worked.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streamweave.simlab import SERVER_KINDS, rclone
from streamweave.simlab.endpoints import (
    ARCHIVE,
    INSTRUMENT,
    LabServer,
    S3Server,
    SftpServer,
    SmbServer,
    WebdavServer,
)
from streamweave.simlab.errors import LabError, ServerStartError
from streamweave.simlab.processes import ManagedProcess, free_port, wait_until_ready
from streamweave.simlab.samba import check_samba, start_smbd

LOOPBACK = "127.0.0.1"
SERVICE_ACCOUNT = "swsvc"
DEFAULT_START_TIMEOUT_SECONDS = 30.0
_PORT_ATTEMPTS = 3
_PROBE_TIMEOUT_SECONDS = 10.0
# Instrument shares change while instruments write: a cached listing would hide new
# files from a harvest (rclone's default is 5 minutes). Not "0s": with zero, rclone's
# VFS cache cleaner spins (a full core, millions of "forgetting directory cache"), and
# S3 writes through `rclone serve s3` then take tens of seconds each.
_DIR_CACHE_TIME = "1ms"

S = TypeVar("S", bound=LabServer)


def _probe(server: LabServer) -> str | None:
    try:
        rclone.lsjson(
            f"probe:{server.instrument}",
            server.rclone_env("probe"),
            recursive=False,
            timeout=_PROBE_TIMEOUT_SECONDS,
        )
    except rclone.RcloneError as exc:
        return str(exc)
    return None


def _launch(
    start: Callable[[int], ManagedProcess],
    describe: Callable[..., S],
    workdir: Path,
    timeout: float,
) -> S:
    """Start on a free port until the server is ready; a lost race for the port retries.

    ``start`` runs the server's process on a port; ``describe`` (its credentials bound)
    makes the server's record from where it listens."""
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = free_port(LOOPBACK)
        server = describe(host=LOOPBACK, port=port, process=start(port), workdir=workdir)
        try:
            wait_until_ready(
                server.process, server.host, server.port, partial(_probe, server), timeout
            )
        except ServerStartError as exc:
            server.process.stop()
            if attempt < _PORT_ATTEMPTS and "address already in use" in str(exc).lower():
                continue
            raise
        except BaseException:  # Ctrl+C while waiting must not leave the server running
            server.process.stop()
            raise
        return server
    raise AssertionError("unreachable: the last attempt returns or raises")


def _password() -> str:
    # URL-safe and without commas or quotes, so it passes through CSV-encoded env vars.
    return secrets.token_urlsafe(18)


def start_smb(dataset_dir: Path, archive_dir: Path, workdir: Path, timeout: float) -> SmbServer:
    password = _password()
    shares = {INSTRUMENT: (dataset_dir, False), ARCHIVE: (archive_dir, True)}
    env = rclone.base_env()
    return _launch(
        lambda port: start_smbd(workdir, port, shares, SERVICE_ACCOUNT, password, env),
        partial(SmbServer, username=SERVICE_ACCOUNT, password=password),
        workdir,
        timeout,
    )


def _serve_env(dataset_dir: Path, archive_dir: Path, workdir: Path) -> dict[str, str]:
    """rclone remote ``swlab:`` = ``instrument`` (read-only dataset) + ``archive`` (writable)."""
    # Links keep arbitrary dataset paths (spaces, quotes, colons) out of rclone's
    # space-separated upstream lists.
    links = {"instrument": dataset_dir, "archive": archive_dir}
    for name, target in links.items():
        link = workdir / name
        if not link.is_symlink():
            link.symlink_to(target.resolve(), target_is_directory=True)
    empty = workdir / "empty"
    empty.mkdir(exist_ok=True)
    (workdir / "cache").mkdir(exist_ok=True)
    return rclone.base_env(
        {
            # A union of read-only upstreams refuses writes; it needs two upstreams.
            **rclone.remote_env(
                "swinstrument",
                {"type": "union", "upstreams": f'"{workdir / "instrument"}:ro" "{empty}:ro"'},
            ),
            **rclone.remote_env(
                "swlab",
                {
                    "type": "combine",
                    "upstreams": f'"{INSTRUMENT}=swinstrument:" "{ARCHIVE}={workdir / "archive"}"',
                },
            ),
            "RCLONE_CACHE_DIR": str(workdir / "cache"),
            "RCLONE_DIR_CACHE_TIME": _DIR_CACHE_TIME,
            # Like a Linux file server: "Müller" in NFC and in NFD are two files. By
            # default rclone's VFS folds them, so a write to one replaces the other.
            "RCLONE_NO_UNICODE_NORMALIZATION": "true",
        }
    )


def _serve(protocol: str, workdir: Path, port: int, env: Mapping[str, str]) -> ManagedProcess:
    return ManagedProcess.start(
        f"rclone serve {protocol}",
        [rclone.rclone_binary(), "serve", protocol, "swlab:", "--addr", f"{LOOPBACK}:{port}"],
        env=env,
        log_path=workdir / f"rclone-{protocol}.log",
    )


def start_s3(dataset_dir: Path, archive_dir: Path, workdir: Path, timeout: float) -> S3Server:
    access_key, secret_key = f"SW{secrets.token_hex(8).upper()}", _password()
    env = _serve_env(dataset_dir, archive_dir, workdir)
    # --auth-key is a repeatable flag, so its variable is CSV: quote the comma'd pair.
    env["RCLONE_AUTH_KEY"] = f'"{access_key},{secret_key}"'
    return _launch(
        partial(_serve, "s3", workdir, env=env),
        partial(S3Server, access_key_id=access_key, secret_access_key=secret_key),
        workdir,
        timeout,
    )


def _host_key(workdir: Path) -> tuple[Path, str]:
    # One Ed25519 key made here is faster than rclone generating RSA, ECDSA and Ed25519.
    key = Ed25519PrivateKey.generate()
    path = workdir / "ssh_host_ed25519_key"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return path, public.decode()


def start_sftp(dataset_dir: Path, archive_dir: Path, workdir: Path, timeout: float) -> SftpServer:
    password = _password()
    key_path, public_key = _host_key(workdir)
    authorized_keys = workdir / "authorized_keys"
    authorized_keys.touch()
    env = _serve_env(dataset_dir, archive_dir, workdir)
    # An empty authorized_keys: the account's password is the only way in (not ~/.ssh).
    env.update(
        {
            "RCLONE_USER": SERVICE_ACCOUNT,
            "RCLONE_PASS": password,
            "RCLONE_KEY": str(key_path),
            "RCLONE_AUTHORIZED_KEYS": str(authorized_keys),
        }
    )
    return _launch(
        partial(_serve, "sftp", workdir, env=env),
        partial(SftpServer, username=SERVICE_ACCOUNT, password=password, host_key=public_key),
        workdir,
        timeout,
    )


def start_webdav(
    dataset_dir: Path, archive_dir: Path, workdir: Path, timeout: float
) -> WebdavServer:
    password = _password()
    env = _serve_env(dataset_dir, archive_dir, workdir)
    env.update({"RCLONE_USER": SERVICE_ACCOUNT, "RCLONE_PASS": password})
    return _launch(
        partial(_serve, "webdav", workdir, env=env),
        partial(WebdavServer, username=SERVICE_ACCOUNT, password=password),
        workdir,
        timeout,
    )


_STARTERS: dict[str, Callable[[Path, Path, Path, float], LabServer]] = {
    "smb": start_smb,
    "s3": start_s3,
    "sftp": start_sftp,
    "webdav": start_webdav,
}


def _preflight(kinds: Iterable[str]) -> None:
    """Fail before anything starts when a requested server cannot run here."""
    for kind in kinds:
        if kind == "smb":
            check_samba()
        else:
            rclone.rclone_binary()


@dataclass
class Lab:
    """The running servers of one lab, by kind, with the directories they serve."""

    dataset_dir: Path
    archive_dir: Path
    servers: dict[str, LabServer]
    startup_seconds: dict[str, float] = field(default_factory=dict)
    _own_archive: bool = field(default=False, repr=False)

    def _get(self, kind: str, cls: type[S]) -> S:
        server = self.servers.get(kind)
        if server is None:
            raise LabError(f"no {kind} server in this lab: start it with servers=(..., {kind!r})")
        assert isinstance(server, cls)
        return server

    @property
    def smb(self) -> SmbServer:
        return self._get("smb", SmbServer)

    @property
    def s3(self) -> S3Server:
        return self._get("s3", S3Server)

    @property
    def sftp(self) -> SftpServer:
        return self._get("sftp", SftpServer)

    @property
    def webdav(self) -> WebdavServer:
        return self._get("webdav", WebdavServer)

    def stop(self) -> None:
        """Stop every server (last started first) and remove what the lab created."""
        failures: list[Exception] = []
        for kind in reversed(list(self.servers)):
            try:
                self.servers.pop(kind).stop()
            except Exception as exc:  # one stubborn server must not keep the others running
                failures.append(exc)
        if self._own_archive:
            shutil.rmtree(self.archive_dir, ignore_errors=True)
        if failures:
            raise failures[0]


def start_lab(
    dataset_dir: Path,
    servers: Iterable[str] = SERVER_KINDS,
    *,
    archive_dir: Path | None = None,
    timeout: float = DEFAULT_START_TIMEOUT_SECONDS,
) -> Lab:
    """Start the requested servers; on any failure, stop those already running and raise."""
    kinds = list(dict.fromkeys(servers))
    unknown = [kind for kind in kinds if kind not in _STARTERS]
    if unknown:
        raise LabError(f"unknown server kind(s) {unknown}: choose from {', '.join(SERVER_KINDS)}")
    dataset_dir = Path(dataset_dir).resolve()
    if not dataset_dir.is_dir():
        raise LabError(
            f"dataset directory {dataset_dir} does not exist: "
            "generate one with `streamweave simlab generate`"
        )
    _preflight(kinds)
    own_archive = archive_dir is None
    archive = (
        Path(tempfile.mkdtemp(prefix="sw-simlab-archive-"))
        if archive_dir is None
        else Path(archive_dir).resolve()
    )
    archive.mkdir(parents=True, exist_ok=True)
    lab = Lab(dataset_dir, archive, {}, _own_archive=own_archive)
    try:
        for kind in kinds:
            began = time.monotonic()
            workdir = Path(tempfile.mkdtemp(prefix=f"sw-simlab-{kind}-"))
            try:
                lab.servers[kind] = _STARTERS[kind](dataset_dir, archive, workdir, timeout)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            lab.startup_seconds[kind] = time.monotonic() - began
    except BaseException:
        lab.stop()
        raise
    return lab


@contextlib.contextmanager
def running_lab(
    dataset_dir: Path,
    servers: Iterable[str] = SERVER_KINDS,
    *,
    archive_dir: Path | None = None,
    timeout: float = DEFAULT_START_TIMEOUT_SECONDS,
) -> Iterator[Lab]:
    """Servers for ``dataset_dir`` while the block runs; all stopped and cleaned up after."""
    lab = start_lab(dataset_dir, servers, archive_dir=archive_dir, timeout=timeout)
    try:
        yield lab
    finally:
        lab.stop()
