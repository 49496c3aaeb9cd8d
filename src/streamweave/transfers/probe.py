"""Connectivity checks for a location, before any adapter is involved.

Local and NFS paths are checked for real (exists, is a directory, a probe file can be
written and removed). Network kinds are checked for reachability of the server's port;
credentials are exercised by the transfer adapters.
"""

from __future__ import annotations

import asyncio
import os
import secrets as _secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONNECT_TIMEOUT_SECONDS = 5.0


class ProbeFailed(Exception):
    """The location cannot be used; the message says why and what to check."""


def _check_directory(path: Path) -> str:
    if not path.exists():
        raise ProbeFailed(f"{path} does not exist; create it or fix base_path")
    if not path.is_dir():
        raise ProbeFailed(f"{path} is not a directory")
    probe = path / f".streamweave-probe-{_secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        raise ProbeFailed(f"cannot write to {path}: {exc.strerror}; check permissions") from None
    return f"{path} is a writable directory"


async def _check_port(host: str, port: int) -> str:
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=CONNECT_TIMEOUT_SECONDS
        )
    except TimeoutError:
        raise ProbeFailed(f"{host}:{port} did not answer within {CONNECT_TIMEOUT_SECONDS:.0f} s") from None
    except OSError as exc:
        raise ProbeFailed(f"cannot reach {host}:{port}: {exc.strerror or exc}") from None
    writer.close()
    await writer.wait_closed()
    return f"{host}:{port} is reachable"


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    if not parts.hostname:
        raise ProbeFailed(f"{url!r} has no host name")
    return parts.hostname, parts.port or default


async def probe_storage(kind: str, config: dict[str, Any], secrets: dict[str, Any], base_path: str) -> str:
    if kind in ("posix", "nfs"):
        return await asyncio.to_thread(_check_directory, Path(base_path))
    if kind == "cifs":
        return await _check_port(config["host"], int(config.get("port", 445)))
    if kind == "sftp":
        return await _check_port(config["host"], int(config.get("port", 22)))
    if kind == "s3":
        host, port = _endpoint(config.get("endpoint_url") or f"https://s3.{config.get('region', 'us-east-1')}.amazonaws.com")
        return await _check_port(host, port)
    if kind == "webdav":
        return await _check_port(*_endpoint(config["url"]))
    raise ProbeFailed(f"unknown storage type {kind!r}")
