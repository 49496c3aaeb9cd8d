"""The adapter contract: what every transfer engine offers, and what it reports.

Like rclone's backend interface, the contract is narrow: list a location, copy a batch
of items between two locations, checksum a path, test a location, delete a path.
Adapters are found by name through the ``streamweave.transfer_adapters`` entry-point
group, so another package can add Globus, iRODS or rsync behind the same interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol

from streamweave.timestamps import microseconds
from streamweave.transfers.errors import TransferError

# Location kinds that are paths on this machine (mounted NFS included).
LOCAL_KINDS = frozenset({"local", "posix", "nfs"})


def no_secrets() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Location:
    """Where files are: a kind of connection, its settings, and a root inside it.

    Secrets are not held in the clear: ``secrets()`` decrypts them at the moment of
    use, and neither ``repr`` nor ``str`` shows them.
    """

    kind: str
    root: str
    config: Mapping[str, Any] = field(default_factory=dict)
    # A module-level default keeps secret-less locations picklable (worker processes).
    secrets: Callable[[], Mapping[str, Any]] = field(default=no_secrets, repr=False, compare=False)
    name: str = ""

    def describe(self) -> str:
        """Where this is, for messages: kind, server, share or bucket, base path; no secret."""
        config = self.config
        if config.get("url"):
            label = str(config["url"]).rstrip("/")
        elif self.kind == "s3":
            label = f"s3://{config.get('bucket', '')}"
        elif config.get("host"):
            port = f":{config['port']}" if config.get("port") else ""
            share = f"/{str(config['share']).strip('/')}" if config.get("share") else ""
            label = f"{self.kind}://{config['host']}{port}{share}"
        else:
            label = f"{self.kind}:"
        root = self.root.strip("/")
        if root:
            label += f"/{root}"
        if self.kind == "s3" and config.get("endpoint_url"):
            label += f" at {config['endpoint_url']}"
        return f"{self.name} ({label})" if self.name else label


@dataclass(frozen=True)
class Entry:
    """One listed path, relative to the location's root, '/'-separated."""

    path: str
    size: int
    mtime: datetime
    is_dir: bool = False


class IndexEntry(NamedTuple):
    """One file in an index: what a harvest compares, and nothing more per file."""

    path: str
    size: int
    mtime_us: int | None  # microseconds since the epoch; None when the server has none


def index_of(entries: list[Entry]) -> list[IndexEntry]:
    """An index built from a listing (adapters with no faster way)."""
    found = [IndexEntry(e.path, e.size, microseconds(e.mtime)) for e in entries if not e.is_dir]
    found.sort()
    return found


@dataclass(frozen=True)
class CopyItem:
    source: str
    destination: str
    size: int | None = None
    mtime: datetime | None = None


@dataclass
class CopyResult:
    item: CopyItem
    bytes: int = 0
    algorithm: str = ""
    source_checksum: str | None = None
    dest_checksum: str | None = None
    error: TransferError | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def verified(self) -> bool:
        return (
            self.error is None
            and self.source_checksum is not None
            and self.source_checksum == self.dest_checksum
        )

    @property
    def error_class(self) -> str | None:
        return type(self.error).__name__ if self.error else None


@dataclass
class Progress:
    files_done: int = 0
    files_failed: int = 0
    bytes_done: int = 0
    files_total: int = 0
    bytes_total: int = 0


ProgressCallback = Callable[[Progress], None]


class Adapter(Protocol):
    name: ClassVar[str]

    def supports(self, source: Location, destination: Location) -> bool: ...

    async def prepare(self) -> None:
        """Get ready for batches (start worker processes...): called once a harvest
        knows it has files to copy, so the start-up overlaps the rest of its planning.
        Does nothing for most adapters."""
        ...

    def listing(self, location: Location) -> AsyncIterator[Entry]: ...

    async def index(self, location: Location) -> list[IndexEntry]:
        """Every file (not directory) as (path, size, mtime in microseconds since the
        epoch), sorted by path: what a harvest compares with what it remembers."""
        ...

    async def copy_batch(
        self,
        source: Location,
        destination: Location,
        items: Sequence[CopyItem],
        *,
        algorithm: str,
        concurrency: int = 8,
        progress: ProgressCallback | None = None,
    ) -> list[CopyResult]:
        """Copy every item; each result says verified or why not. Never raises for
        one item's failure; raises only when the batch cannot start at all."""
        ...

    async def checksum(self, location: Location, path: str, algorithm: str) -> str: ...

    async def test(self, location: Location) -> str: ...

    async def delete(self, location: Location, paths: Sequence[str]) -> list[TransferError | None]:
        """Delete files in ``location``, all in one session (never a connection per
        file). One outcome per path: None when deleted, ``PathNotFound`` when nothing
        was there, or another ``TransferError``."""
        ...

    async def rename(
        self, location: Location, moves: Sequence[tuple[str, str]]
    ) -> list[TransferError | None]:
        """Move files within ``location``, each (path, new path), all in one session
        (one connection, never one per file). Never replaces. One outcome per move:
        None when moved, ``DestinationExists`` when something is at the new path,
        ``PathNotFound`` when nothing is at the path, or another ``TransferError``."""
        ...
