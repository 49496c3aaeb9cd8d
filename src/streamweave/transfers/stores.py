"""Byte streams in and out of a location: the primitives the streaming copier needs.

A store reads a file as chunks, writes chunks to a (temporary) path, renames, deletes
and checksums. The local store does file I/O in worker threads; the rclone store
talks to the session's ``rclone rcd``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import secrets
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import quote

import httpx

from streamweave.transfers.base import Location
from streamweave.transfers.checksums import new_hasher
from streamweave.transfers.errors import (
    PathNotFound,
    PermissionDenied,
    SourceChanged,
    TransferError,
    TransferTimeout,
)
from streamweave.transfers.local import map_os_error, resolve
from streamweave.transfers.rclone import RcloneDaemon, Remote, classify
from streamweave.transfers.tree import TEMP_MARK

CHUNK_BYTES = 1 << 20


def temp_path(path: str) -> str:
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}{TEMP_MARK}{secrets.token_hex(4)}")


def shown(path: str) -> str:
    """The name an admin knows a file by: a temporary copy is named after its final name."""
    head, name = posixpath.split(path)
    if name.startswith(".") and TEMP_MARK in name:
        name = name[1 : name.rindex(TEMP_MARK)]
    return posixpath.join(head, name)


class Store(Protocol):
    location: Location

    async def check(self, *, destination: bool) -> None: ...

    def read(self, path: str) -> AsyncIterator[bytes]: ...

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> None: ...

    async def replace(self, temp: str, final: str) -> None: ...

    async def delete(self, path: str) -> None: ...

    async def exists(self, path: str) -> bool: ...

    async def checksum(self, path: str, algorithm: str) -> str: ...


class LocalStore:
    def __init__(self, location: Location) -> None:
        self.location = location

    async def check(self, *, destination: bool) -> None:
        """Local paths fail per file, with the file's own error."""

    async def read(self, path: str) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(open, resolve(self.location, path), "rb", buffering=0)
        except OSError as exc:
            raise map_os_error(exc, path) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
                yield chunk
        except OSError as exc:
            raise map_os_error(exc, path) from None
        finally:
            handle.close()

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> None:
        target = resolve(self.location, path)
        try:
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise map_os_error(exc, shown(path)) from None
        try:
            async for chunk in chunks:
                await asyncio.to_thread(_write_all, fd, chunk)
            await asyncio.to_thread(os.fsync, fd)
        except OSError as exc:
            raise map_os_error(exc, shown(path)) from None
        finally:
            os.close(fd)

    async def replace(self, temp: str, final: str) -> None:
        try:
            await asyncio.to_thread(
                os.replace, resolve(self.location, temp), resolve(self.location, final)
            )
        except OSError as exc:
            raise map_os_error(exc, final) from None

    async def delete(self, path: str) -> None:
        try:
            await asyncio.to_thread(resolve(self.location, path).unlink)
        except FileNotFoundError:
            raise PathNotFound(f"{path}: no such file") from None
        except OSError as exc:
            raise map_os_error(exc, path) from None

    async def exists(self, path: str) -> bool:
        return await asyncio.to_thread(os.path.lexists, resolve(self.location, path))

    async def checksum(self, path: str, algorithm: str) -> str:
        hasher = new_hasher(algorithm)
        async for chunk in self.read(path):
            hasher.update(chunk)
        return hasher.hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class RcloneStore:
    def __init__(self, location: Location, daemon: RcloneDaemon, remote: Remote) -> None:
        self.location = location
        self.daemon = daemon
        self.remote = remote

    @property
    def _client(self) -> httpx.AsyncClient:
        assert self.daemon.client is not None
        return self.daemon.client

    def _what(self, path: str) -> str:
        return f"{shown(path)} on {self.location.describe()}"

    async def check(self, *, destination: bool) -> None:
        await self.daemon.check(self.remote, self.location.describe(), destination=destination)

    async def read(self, path: str) -> AsyncIterator[bytes]:
        try:
            async with self._client.stream(
                "GET", self.daemon.object_url(self.remote, path)
            ) as response:
                if response.status_code == 404 and await self.exists(path):
                    # rclone's object server answers 404 for any failure to open.
                    raise PermissionDenied(
                        f"{self._what(path)}: the file is there but this account may not "
                        "read it (permission denied)"
                    )
                if response.status_code != 200:
                    text = (await response.aread()).decode(errors="replace")
                    raise classify(f"{response.status_code} {text}", self._what(path))
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    yield chunk
        except httpx.TimeoutException:
            raise TransferTimeout(f"{self._what(path)}: no data from the server in time") from None
        except httpx.TransportError as exc:
            raise await self._interrupted(path, str(exc)) from None

    async def _interrupted(self, path: str, cause: str) -> TransferError:
        """Why a read broke off: rclone ends the stream without saying, so ask the
        server about the file (unreachable, credentials, file gone, or none of these)."""
        what = self._what(path)
        try:
            reply = await self.daemon.call(
                "operations/stat", what, fs=self.remote.fs(), remote=path
            )
        except TransferError as error:
            return error
        if not reply.get("item"):
            return SourceChanged(f"{what}: the file disappeared while it was read ({cause})")
        return TransferError(
            f"{what}: the read broke off; the file is copied again next time ({cause})"
        )

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> None:
        directory, name = posixpath.split(path)
        boundary = secrets.token_hex(16)
        # operations/uploadfile takes multipart/form-data; built by hand so the body
        # streams from the source instead of being held in memory. The name goes as
        # RFC 2231 ``filename*`` (UTF-8, percent-encoded): quotes, backslashes and any
        # Unicode form arrive byte for byte.
        encoded = quote(name, safe="")

        async def body() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file0"; '
                f"filename*=UTF-8''{encoded}\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode()
            async for chunk in chunks:
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        try:
            response = await self._client.post(
                "/operations/uploadfile",
                params={"fs": self.remote.fs(), "remote": directory},
                content=body(),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        except httpx.TimeoutException:
            raise TransferTimeout(
                f"{self._what(path)}: the server stopped accepting data"
            ) from None
        except httpx.TransportError as exc:
            raise classify(str(exc), self._what(path)) from None
        if response.status_code != 200:
            raise classify(response.text, self._what(path))

    async def replace(self, temp: str, final: str) -> None:
        fs = self.remote.fs()
        await self.daemon.call(
            "operations/movefile",
            self._what(final),
            srcFs=fs,
            srcRemote=temp,
            dstFs=fs,
            dstRemote=final,
            # Always move. Otherwise rclone first looks the final name up and, when it
            # finds something "identical" (equal size), deletes the verified copy instead;
            # a server that folds names (NFC/NFD, case) then answers for another file.
            _config={"NoCheckDest": True},
        )

    async def delete(self, path: str) -> None:
        await self.daemon.call(
            "operations/deletefile", self._what(path), fs=self.remote.fs(), remote=path
        )

    async def exists(self, path: str) -> bool:
        reply = await self.daemon.call(
            "operations/stat", self._what(path), fs=self.remote.fs(), remote=path
        )
        return bool(reply.get("item"))

    async def checksum(self, path: str, algorithm: str) -> str:
        # No backend offers xxh3 or, for SMB and WebDAV, any hash: re-read what is there.
        hasher = new_hasher(algorithm)
        async for chunk in self.read(path):
            hasher.update(chunk)
        return hasher.hexdigest()


async def safe_delete(store: Store, path: str) -> None:
    """Remove a temporary copy; a failure here must not hide the original error."""
    with contextlib.suppress(TransferError):
        await store.delete(path)
