"""Transfers against the simulated lab's real servers (Samba, rclone's S3, SFTP, WebDAV).

Every copy is checked independently of the engine's own verdict: the bytes under each
final name are read back from the directory the server serves and compared with the
generated dataset. Failures must end in a specific, actionable, retryable exception,
leave nothing unverified under a final name, and succeed once the cause is removed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from streamweave.harvest.pipeline import sweep_remote_temporaries
from streamweave.simlab import servers
from streamweave.simlab.datasets import LARGE_FILE, ManifestEntry
from streamweave.simlab.endpoints import ARCHIVE, INSTRUMENT
from streamweave.simlab.servers import Lab
from streamweave.transfers import pull, rclone, streaming
from streamweave.transfers.base import CopyItem, CopyResult, Location, Progress
from streamweave.transfers.errors import (
    AuthenticationFailed,
    ChecksumMismatch,
    DestinationExists,
    DestinationFull,
    HostUnreachable,
    LocationNotFound,
    PathNotFound,
    PermissionDenied,
    TransferError,
)
from streamweave.transfers.pull import Pull
from streamweave.transfers.registry import adapter_for
from streamweave.transfers.stores import RcloneStore, shown
from streamweave.transfers.tree import TEMP_MARK
from tests.conftest import record_obscured
from tests.transfers.conftest import Sample, require_samba

ALGORITHM = "xxh3-128"  # the manifest's: result checksums are compared with it
LOCATION_KINDS = {"smb": "cifs", "s3": "s3", "sftp": "sftp", "webdav": "webdav"}
# rclone serve s3 writes an object to this name first; a server killed mid-upload
# leaves it behind (hidden, never a final name).
SERVER_TEMP_MARK = ".rclone_temp_put_"
EDGE_KINDS = ("unicode-nfc", "unicode-nfd", "unicode", "spaces", "deep", "empty", "nmr")


# --- locations on the lab's servers ------------------------------------------------


def need(lab: Lab, *kinds: str) -> None:
    """Only SMB can be missing (no Samba here): skip, or fail under CI."""
    if "smb" in kinds and "smb" not in lab.servers:
        require_samba()
        pytest.fail("Samba can run here, but the lab has no SMB server")


def location(
    lab: Lab,
    kind: str,
    area: str,
    root: str = "",
    *,
    secret: str | None = None,
    **config: Any,
) -> Location:
    """``root`` inside the ``area`` (instrument or archive) of ``kind``'s lab server;
    ``secret`` replaces the password (or S3 secret key), ``config`` overrides settings."""
    secrets: dict[str, str]
    if kind == "smb":
        smb = lab.smb
        settings: dict[str, Any] = {
            "host": smb.host,
            "port": smb.port,
            "share": area,
            "username": smb.username,
        }
        secrets = {"password": smb.password}
    elif kind == "s3":
        s3 = lab.s3
        settings = {
            "bucket": area,
            "region": s3.region,
            "endpoint_url": s3.endpoint_url,
            "path_style": True,
        }
        secrets = {"access_key_id": s3.access_key_id, "secret_access_key": s3.secret_access_key}
    elif kind == "sftp":
        sftp = lab.sftp
        settings = {
            "host": sftp.host,
            "port": sftp.port,
            "username": sftp.username,
            "host_key": sftp.host_key,
        }
        secrets = {"password": sftp.password}
        root = f"/{area}/{root}".rstrip("/")
    elif kind == "webdav":
        webdav = lab.webdav
        settings = {"url": webdav.url, "username": webdav.username}
        secrets = {"password": webdav.password}
        root = f"/{area}/{root}".rstrip("/")
    else:
        raise AssertionError(f"no lab server of kind {kind!r}")
    settings.update(config)
    if secret is not None:
        secrets["secret_access_key" if kind == "s3" else "password"] = secret
    return Location(LOCATION_KINDS[kind], root=root, config=settings, secrets=lambda: secrets)


def changed(where: Location, *, secret: str | None = None, **config: Any) -> Location:
    """``where`` with another password (or S3 secret key) or other settings."""
    secrets = dict(where.secrets())
    if secret is not None:
        secrets["secret_access_key" if where.kind == "s3" else "password"] = secret
    return dataclasses.replace(where, config={**where.config, **config}, secrets=lambda: secrets)


def secret_of(location: Location) -> str:
    values = location.secrets()
    return str(values.get("password") or values["secret_access_key"])


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def destination(lab: Lab, kind: str, tmp_path: Path, name: str) -> tuple[Location, Path]:
    """A fresh destination and the directory on disk that holds what is written there."""
    if kind == "posix":
        return Location("posix", root=str(tmp_path / name)), tmp_path / name
    root = unique(name)
    return location(lab, kind, ARCHIVE, root), lab.archive_dir / root


def source(lab: Lab, sample: Sample, kind: str) -> Location:
    if kind == "local":
        return Location("local", root=str(sample.root))
    return location(lab, kind, INSTRUMENT)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- what is on disk ---------------------------------------------------------------


def is_temporary(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith(".") and (TEMP_MARK in name or name.startswith(SERVER_TEMP_MARK))


def files_under(root: Path) -> dict[str, Path]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}


def assert_copied(
    on_disk: Path, sample: Sample, items: Iterable[CopyItem], *, temporaries: bool = False
) -> None:
    """Exactly the items' destinations are under final names, each holding the bytes of
    its source in the dataset; no temporary copy is left unless ``temporaries``."""
    expected = {item.destination: item.source for item in items}
    found = files_under(on_disk)
    leftovers = [p for p in found if is_temporary(p)]
    assert temporaries or not leftovers, f"temporary copies left behind: {leftovers}"
    finals = {p: f for p, f in found.items() if not is_temporary(p)}
    assert sorted(finals) == sorted(expected)
    for path, source in expected.items():
        assert finals[path].read_bytes() == (sample.root / source).read_bytes(), path


def assert_no_unverified_final(
    on_disk: Path, sample: Sample, results: Sequence[CopyResult]
) -> None:
    """Invariant 1: whatever is under a final name holds the source's exact bytes."""
    expected = {r.item.destination: r.item.source for r in results}
    finals = {p: f for p, f in files_under(on_disk).items() if not is_temporary(p)}
    for path, file in finals.items():
        assert path in expected, f"unexpected file {path}"
        assert file.read_bytes() == (sample.root / expected[path]).read_bytes(), path
    for result in results:
        if result.verified:
            assert result.item.destination in finals, result.item.destination


def edge_entries(sample: Sample) -> list[ManifestEntry]:
    """One file of each awkward kind: NFC and NFD names, spaces, 24 levels, zero bytes."""
    chosen: dict[str, ManifestEntry] = {}
    for entry in sample.manifest:
        chosen.setdefault(entry.kind, entry)
    return [chosen[kind] for kind in EDGE_KINDS]


def items_of(entries: Iterable[ManifestEntry], prefix: str = "") -> list[CopyItem]:
    return [CopyItem(e.path, f"{prefix}{e.path}", e.size) for e in entries]


async def copy(
    src: Location,
    dst: Location,
    items: Sequence[CopyItem],
    progress: Callable[[Progress], None] | None = None,
) -> list[CopyResult]:
    adapter = adapter_for(src, dst)
    return await adapter.copy_batch(src, dst, items, algorithm=ALGORITHM, progress=progress)


def assert_verified(results: Sequence[CopyResult], sample: Sample) -> None:
    failures = [(r.item.source, r.error) for r in results if not r.verified]
    assert not failures
    checksums = {e.path: e.checksum for e in sample.manifest}
    for result in results:
        expected = checksums[result.item.source]
        assert result.source_checksum == result.dest_checksum == expected, result.item.source
        assert result.bytes == result.item.size


# --- 1. verified copies between every kind of location -----------------------------

PAIRS = [
    ("smb", "posix"),
    ("smb", "s3"),
    ("sftp", "posix"),
    ("s3", "posix"),
    ("webdav", "posix"),
    ("local", "smb"),
    ("local", "s3"),
    ("local", "webdav"),
]


@pytest.mark.parametrize(("from_kind", "to_kind"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
async def test_copy_verifies_every_file(
    lab: Lab, sample: Sample, tmp_path: Path, from_kind: str, to_kind: str
) -> None:
    need(lab, from_kind, to_kind)
    src = source(lab, sample, from_kind)
    dst, on_disk = destination(lab, to_kind, tmp_path, "copy")
    if from_kind == "local":
        items = items_of(sample.manifest)
    else:
        # As a harvest does: one recursive listing through the protocol, then the copy.
        listed = [e async for e in adapter_for(src, dst).listing(src) if not e.is_dir]
        assert sorted((e.path, e.size) for e in listed) == sorted(
            (e.path, e.size) for e in sample.manifest
        )
        items = [CopyItem(e.path, e.path, e.size, e.mtime) for e in listed]

    results = await copy(src, dst, items)

    assert_verified(results, sample)
    assert_copied(on_disk, sample, items)


# --- 2. failures: specific, actionable, retryable, nothing unverified kept -----------


async def attempt(src: Location, dst: Location, items: Sequence[CopyItem]) -> list[TransferError]:
    """The errors of a batch: the one that stopped it at the start, or each item's."""
    try:
        results = await copy(src, dst, items)
    except TransferError as exc:
        return [exc]
    assert all(r.error is not None and not r.verified for r in results)
    return [r.error for r in results if r.error is not None]


def assert_errors(
    errors: Sequence[TransferError], kind: type[TransferError], advice: str, *secrets: str
) -> None:
    assert errors
    for error in errors:
        assert type(error) is kind, repr(error)
        assert error.retryable
        assert advice in str(error), str(error)
        for secret in secrets:
            assert secret not in str(error)


AUTH_CASES = [
    ("smb", "source"),
    ("s3", "source"),
    ("sftp", "source"),
    ("webdav", "source"),
    ("smb", "destination"),
    ("s3", "destination"),
    ("webdav", "destination"),
]


@pytest.mark.parametrize(("kind", "role"), AUTH_CASES, ids=[f"{k}-{r}" for k, r in AUTH_CASES])
async def test_wrong_password(
    lab: Lab, sample: Sample, tmp_path: Path, kind: str, role: str
) -> None:
    need(lab, kind)
    items = items_of(edge_entries(sample))
    if role == "source":
        good, (dst, on_disk) = (
            location(lab, kind, INSTRUMENT),
            destination(lab, "posix", tmp_path, "copy"),
        )
        bad = changed(good, secret="wrong-" + secret_of(good))
        errors = await attempt(bad, dst, items)
        retry = (good, dst)
    else:
        src = source(lab, sample, "local")
        good, on_disk = destination(lab, kind, tmp_path, "copy")
        bad = changed(good, secret="wrong-" + secret_of(good))
        errors = await attempt(src, bad, items)
        retry = (src, good)

    assert_errors(
        errors,
        AuthenticationFailed,
        "check the account's user name and password",
        secret_of(good),
        secret_of(bad),
    )
    assert files_under(on_disk) == {}
    assert_verified(await copy(*retry, items), sample)
    assert_copied(on_disk, sample, items)


UNREACHABLE_CASES = [
    ("smb", "source", "closed port"),
    ("sftp", "source", "unknown host"),
    ("webdav", "source", "closed port"),
    ("s3", "destination", "unknown host"),
    ("smb", "destination", "unknown host"),
]


def unreachable(where: Location, how: str) -> Location:
    """``where`` on a loopback port nobody listens on, or on a name that cannot resolve."""
    host = "127.0.0.1" if how == "closed port" else "streamweave-lab.invalid"
    port = closed_port() if how == "closed port" else 8080
    if where.kind == "s3":
        return changed(where, endpoint_url=f"http://{host}:{port}")
    if where.kind == "webdav":
        return changed(where, url=f"http://{host}:{port}/")
    return changed(where, host=host, port=port)


@pytest.mark.parametrize(
    ("kind", "role", "how"), UNREACHABLE_CASES, ids=["-".join(c) for c in UNREACHABLE_CASES]
)
async def test_unreachable_server(
    lab: Lab, sample: Sample, tmp_path: Path, kind: str, role: str, how: str
) -> None:
    need(lab, kind)
    items = items_of(edge_entries(sample))
    if role == "source":
        dst, on_disk = destination(lab, "posix", tmp_path, "copy")
        good = location(lab, kind, INSTRUMENT)
        errors = await attempt(unreachable(good, how), dst, items)
        retry = (good, dst)
    else:
        src = source(lab, sample, "local")
        good, on_disk = destination(lab, kind, tmp_path, "copy")
        errors = await attempt(src, unreachable(good, how), items)
        retry = (src, good)

    assert_errors(errors, HostUnreachable, "check host name, port and network")
    assert files_under(on_disk) == {}
    assert_verified(await copy(*retry, items), sample)
    assert_copied(on_disk, sample, items)


MISSING_CASES = [
    ("smb", "source"),
    ("smb", "destination"),
    ("s3", "source"),
    ("s3", "destination"),
    ("sftp", "source"),
    ("webdav", "source"),
]


@pytest.mark.parametrize(
    ("kind", "role"), MISSING_CASES, ids=[f"{k}-{r}" for k, r in MISSING_CASES]
)
async def test_missing_share_bucket_or_base_path(
    lab: Lab, sample: Sample, tmp_path: Path, kind: str, role: str
) -> None:
    need(lab, kind)
    entries = edge_entries(sample)
    items = items_of(entries)
    missing = unique("missing")
    if role == "destination":  # the share or bucket is missing
        src = source(lab, sample, "local")
        good, on_disk = destination(lab, kind, tmp_path, "copy")
        container = "share" if kind == "smb" else "bucket"
        errors = await attempt(src, changed(good, **{container: missing}), items)
        retry = (src, good)  # the admin corrects the share or bucket name
    elif kind in ("smb", "s3"):  # the share or bucket is missing
        dst, on_disk = destination(lab, "posix", tmp_path, "copy")
        errors = await attempt(location(lab, kind, missing), dst, items)
        retry = (location(lab, kind, INSTRUMENT), dst)
    else:  # the base directory is missing: it appears once the instrument writes
        dst, on_disk = destination(lab, "posix", tmp_path, "copy")
        src = location(lab, kind, ARCHIVE, f"{missing}/incoming")
        errors = await attempt(src, dst, items)
        for entry in entries:
            target = lab.archive_dir / missing / "incoming" / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample.root / entry.path, target)
        retry = (src, dst)

    assert_errors(errors, LocationNotFound, "does not exist; check the location's settings")
    assert any(missing in str(error) for error in errors)
    assert files_under(on_disk) == {}
    assert_verified(await copy(*retry, items), sample)
    assert_copied(on_disk, sample, items)


def restart(lab: Lab, kind: str) -> None:
    """A new server of ``kind`` for the same dataset and archive (new port, new secret)."""
    start = {"smb": servers.start_smb, "s3": servers.start_s3}[kind]
    workdir = Path(tempfile.mkdtemp(prefix=f"sw-simlab-{kind}-"))
    lab.servers[kind] = start(
        lab.dataset_dir, lab.archive_dir, workdir, servers.DEFAULT_START_TIMEOUT_SECONDS
    )


@pytest.mark.parametrize("kind", ["smb", "s3"])
async def test_server_stopped_in_the_middle_of_a_batch(
    lab: Lab, sample: Sample, tmp_path: Path, kind: str
) -> None:
    """SMB as the source, S3 as the destination: the server goes away after some files."""
    need(lab, kind)
    # The dataset twice: enough files that many are still to come when the server stops.
    items = items_of(sample.manifest, "a/") + items_of(sample.manifest, "b/")
    if kind == "smb":
        src = location(lab, kind, INSTRUMENT)
        dst, on_disk = destination(lab, "posix", tmp_path, "copy")
    else:
        src = source(lab, sample, "local")
        dst, on_disk = destination(lab, kind, tmp_path, "copy")
    some_done = asyncio.Event()

    def progress(state: Progress) -> None:
        if state.files_done >= 15:
            some_done.set()

    async def stop_server() -> None:
        await some_done.wait()
        await asyncio.to_thread(lab.servers[kind].stop)

    stopper = asyncio.create_task(stop_server())
    try:
        results = await copy(src, dst, items, progress)
    finally:
        if some_done.is_set():
            await stopper  # the server is gone for good before it is started again
            restart(lab, kind)
        else:
            stopper.cancel()
    assert some_done.is_set(), "the batch ended before the server was stopped"

    failed = [r for r in results if not r.verified]
    assert 15 <= len(results) - len(failed) < len(items) and failed
    for result in failed:
        assert isinstance(result.error, TransferError) and result.error.retryable
        assert type(result.error) is not TransferError, repr(result.error)  # a specific class
    assert any(isinstance(r.error, HostUnreachable) for r in failed)
    assert_no_unverified_final(on_disk, sample, results)
    # Temporary copies are removed, except on a server that is gone (S3 here); they are
    # hidden names, never final ones.
    leftovers = [p for p in files_under(on_disk) if is_temporary(p)]
    assert kind == "s3" or not leftovers, leftovers

    # The next run, against the server as it is now, copies what failed.
    src = location(lab, kind, INSTRUMENT) if kind == "smb" else src
    dst = location(lab, kind, ARCHIVE, dst.root) if kind == "s3" else dst
    retried = await copy(src, dst, [r.item for r in failed])
    assert all(r.verified for r in retried), [r.error for r in retried if not r.verified]
    assert_copied(on_disk, sample, items, temporaries=kind == "s3")


NOT_WRITABLE_CASES = [
    ("smb", ""),  # the instrument share itself: refused file by file
    ("sftp", "incoming"),  # a directory that cannot be made: refused at the start
    ("webdav", ""),
]


@pytest.mark.parametrize(
    ("kind", "root"), NOT_WRITABLE_CASES, ids=[c[0] for c in NOT_WRITABLE_CASES]
)
async def test_destination_not_writable(
    lab: Lab, sample: Sample, tmp_path: Path, kind: str, root: str
) -> None:
    need(lab, kind)
    src = source(lab, sample, "local")
    entries = edge_entries(sample)
    # Into directories that exist on the read-only instrument area, under new names.
    items = [CopyItem(e.path, f"{e.path}.copy", e.size) for e in entries]

    errors = await attempt(src, location(lab, kind, INSTRUMENT, root), items)

    assert_errors(errors, PermissionDenied, "permission denied for this account")
    assert sorted(files_under(sample.root)) == sorted(e.path for e in sample.manifest)
    good, on_disk = destination(lab, kind, tmp_path, "copy")
    assert_verified(await copy(src, good, items), sample)
    assert_copied(on_disk, sample, items)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    if data:
        data[len(data) // 2] ^= 0xFF
    else:
        data.append(0)
    path.write_bytes(bytes(data))


def corrupt_after_write(
    monkeypatch: pytest.MonkeyPatch, kind: str, on_disk: Path, victims: set[str]
) -> None:
    """Flip a byte of each victim's temporary copy, between its writing and its check."""
    if kind == "pull":  # remote -> local: rclone stages the copies, StreamWeave checks them
        verify = Pull._verify

        def corrupt_then_verify(self: Pull, entry: Any, buffer: bytearray) -> None:
            if entry.item.destination in victims:
                flip_a_byte(Path(entry.staged))
            verify(self, entry, buffer)

        monkeypatch.setattr(Pull, "_verify", corrupt_then_verify)
        return
    store = RcloneStore
    original = store.write

    async def write_then_corrupt(self: Any, path: str, chunks: Any) -> None:
        await original(self, path, chunks)
        if shown(path) in victims:
            flip_a_byte(on_disk / path)

    monkeypatch.setattr(store, "write", write_then_corrupt)


CORRUPTION_CASES = [
    ("smb", "local", 0),
    ("s3", "local", 0),
    ("webdav", "local", 0),
    ("posix", "sftp", 0),
    # The large file read as byte ranges, each range checked on its own.
    ("posix", "smb", 1 << 20),
]


@pytest.mark.parametrize(
    ("kind", "from_kind", "ranged_bytes"),
    CORRUPTION_CASES,
    ids=["smb", "s3", "webdav", "posix-from-sftp", "posix-from-smb-ranged"],
)
async def test_corrupted_destination_byte_never_gets_a_final_name(
    lab: Lab,
    sample: Sample,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    from_kind: str,
    ranged_bytes: int,
) -> None:
    need(lab, kind, from_kind)
    entries = [*edge_entries(sample), sample.manifest.by_path()[LARGE_FILE]]
    items = items_of(entries)
    src = source(lab, sample, from_kind)
    dst, on_disk = destination(lab, kind, tmp_path, "copy")
    victims = {LARGE_FILE, next(e.path for e in entries if e.size == 0)}
    ranged: list[str] = []
    if ranged_bytes:
        monkeypatch.setattr(pull, "RANGED_BYTES", ranged_bytes)
        read_ranges = Pull._read_ranges

        async def spy(self: Pull, item: CopyItem, staged: str) -> list[str]:
            ranged.append(item.source)
            return await read_ranges(self, item, staged)

        monkeypatch.setattr(Pull, "_read_ranges", spy)
    corrupt_after_write(monkeypatch, "pull" if kind == "posix" else kind, on_disk, victims)
    results = await copy(src, dst, items)
    monkeypatch.undo()

    for result in results:
        if result.item.destination in victims:
            assert isinstance(result.error, ChecksumMismatch), repr(result.error)
            assert result.error.retryable and not result.verified
            assert ALGORITHM in str(result.error) and result.item.destination in str(result.error)
        else:
            assert result.verified, repr(result.error)
    assert_copied(on_disk, sample, [i for i in items if i.destination not in victims])

    assert not ranged_bytes or LARGE_FILE in ranged
    failed = [r.item for r in results if not r.verified]
    assert_verified(await copy(src, dst, failed), sample)
    assert_copied(on_disk, sample, items)


@pytest.mark.parametrize("kind", ["smb", "s3", "sftp", "webdav"])
async def test_connection_test_names_the_problem(lab: Lab, kind: str) -> None:
    """What "test connection" in the UI runs: the same check that starts a batch."""
    need(lab, kind)
    good = location(lab, kind, INSTRUMENT)
    adapter = adapter_for(good, good)
    assert good.describe() in await adapter.test(good)
    with pytest.raises(AuthenticationFailed, match="user name and password"):
        await adapter.test(location(lab, kind, INSTRUMENT, secret="wrong"))
    with pytest.raises(LocationNotFound):
        await adapter.test(location(lab, kind, "no-such-area"))


# --- 3. no secret in any process's arguments -----------------------------------------


class ArgumentWatch:
    """Reads /proc/*/cmdline of every process, again and again, in a thread."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/cmdline", "rb") as handle:
                            self.seen.add(handle.read())
                    except OSError:
                        continue  # the process ended meanwhile
            self.rounds += 1
            time.sleep(0.001)

    def __enter__(self) -> ArgumentWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def test_no_secret_in_any_process_arguments(
    lab: Lab, sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need(lab, "smb", "s3")
    obscured = record_obscured(monkeypatch)
    smb_source = location(lab, "smb", INSTRUMENT)
    s3_target, s3_disk = destination(lab, "s3", tmp_path, "copy")
    posix_target, posix_disk = destination(lab, "posix", tmp_path, "copy")
    items = items_of(sample.manifest)

    with ArgumentWatch() as watch:
        smb_results, s3_results = await asyncio.gather(
            copy(smb_source, posix_target, items),
            copy(source(lab, sample, "local"), s3_target, items),
        )

    assert_verified(smb_results, sample)
    assert_verified(s3_results, sample)
    assert_copied(posix_disk, sample, items)
    assert_copied(s3_disk, sample, items)
    assert obscured, "the SMB password went through rclone obscure"
    # Every lab password and the S3 secret key, and every obscured form made of them.
    secrets = [server.details()["secret"] for server in lab.servers.values()] + obscured
    secrets += [getattr(server, "_obscured", "") for server in lab.servers.values()]
    engines = [argv for argv in watch.seen if b"rclone" in argv and b"\0rcd\0" in argv]
    assert len(engines) >= 2, "the watch saw both transfers' rclone engines"
    for argv in watch.seen:
        program = argv.split(b"\0")[0]
        for secret in filter(None, secrets):
            assert secret.encode() not in argv, f"a secret in the arguments of {program!r}"


# --- error texts seen from the lab's servers (and AWS) map to specific classes -------

ERROR_TEXTS: Mapping[str, type[TransferError]] = {
    "couldn't connect SMB: response error: The attempted logon is invalid. This is either "
    "due to a bad username or authentication information.": AuthenticationFailed,
    "operation error S3: ListObjects, https response error StatusCode: 403, api error "
    "SignatureDoesNotMatch: The request signature we calculated does not match": (
        AuthenticationFailed
    ),
    "api error InvalidAccessKeyId: The AWS Access Key Id you provided does not exist": (
        AuthenticationFailed
    ),
    "NewFs: couldn't connect SSH: ssh: handshake failed: ssh: unable to authenticate, "
    "attempted methods [none password], no supported methods remain": AuthenticationFailed,
    "read metadata failed: 401 Unauthorized: 401 Unauthorized": AuthenticationFailed,
    "couldn't connect SMB: dial tcp 127.0.0.1:1: connect: connection refused": HostUnreachable,
    "dial tcp: lookup nas.invalid on 10.0.0.53:53: no such host": HostUnreachable,
    "stat ms\\QC_blank_01.raw: connection error: EOF": HostUnreachable,
    "couldn't initialize SMB: response error: {Network Name Not Found} The specified share "
    "name cannot be found on the remote server.": LocationNotFound,
    "error in ListJSON: directory not found": LocationNotFound,
    "api error NoSuchBucket: The specified bucket does not exist": LocationNotFound,
    "mkdir smbdst: permission denied": PermissionDenied,
    "operation error S3: PutObject, StatusCode: 403, api error AccessDenied: Access Denied": (
        PermissionDenied
    ),
    "unchunked simple update failed: Method Not Allowed: 405 Method Not Allowed": (
        PermissionDenied
    ),
    "write /archive/run.raw: no space left on device": DestinationFull,
    "failed to find object: object not found": PathNotFound,
}


@pytest.mark.parametrize("text", list(ERROR_TEXTS))
def test_error_texts_map_to_specific_classes(text: str) -> None:
    envelope = '500 {\n\t"error": %s,\n\t"input": {"fs": "sw0:x"},\n\t"status": 500\n}'
    error = rclone.classify(envelope % json.dumps(text), "run.raw on cifs://nas/share")
    assert type(error) is ERROR_TEXTS[text]
    assert str(error).startswith("run.raw on cifs://nas/share: ")
    assert text[:80] in str(error) and '"input"' not in str(error)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The rclone daemons the streaming adapter starts, as it starts them."""
    daemons: list[object] = []

    class Counted(streaming.RcloneDaemon):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            daemons.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(streaming, "RcloneDaemon", Counted)
    return daemons


async def test_renames_on_remote_storage_share_one_session(
    lab: Lab, tmp_path: Path, started: list[object]
) -> None:
    """A harvest moves a batch's superseded versions aside in one call: one rclone
    daemon for all of them, never one per file; nothing is ever replaced."""
    dst, on_disk = destination(lab, "s3", tmp_path, "versions")
    on_disk.mkdir(parents=True)
    for name in ("a.raw", "b.raw", "taken.raw", "taken.raw.~1~"):
        (on_disk / name).write_bytes(name.encode())
    outcomes = await streaming.RcloneAdapter().rename(
        dst,
        [
            ("a.raw", "a.raw.~1~"),
            ("b.raw", "b.raw.~1~"),
            ("gone.raw", "gone.raw.~1~"),
            ("taken.raw", "taken.raw.~1~"),
        ],
    )
    assert len(started) == 1
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], PathNotFound), outcomes[2]
    assert isinstance(outcomes[3], DestinationExists), outcomes[3]
    assert (on_disk / "a.raw.~1~").read_bytes() == b"a.raw" and not (on_disk / "a.raw").exists()
    assert (on_disk / "taken.raw").read_bytes() == b"taken.raw"
    assert (on_disk / "taken.raw.~1~").read_bytes() == b"taken.raw.~1~"
    assert await streaming.RcloneAdapter().rename(dst, []) == []
    assert len(started) == 1


async def test_deletes_on_a_remote_instrument_share_one_session(
    lab: Lab, tmp_path: Path, started: list[object]
) -> None:
    """Source clean-up removes its files in one call: one rclone daemon for all of
    them, never one per file."""
    dst, on_disk = destination(lab, "s3", tmp_path, "cleanup")
    on_disk.mkdir(parents=True)
    for name in ("a.raw", "b.raw", "keep.raw"):
        (on_disk / name).write_bytes(name.encode())
    outcomes = await streaming.RcloneAdapter().delete(dst, ["a.raw", "gone.raw", "b.raw"])
    assert len(started) == 1
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], PathNotFound), outcomes[1]
    assert sorted(p.name for p in on_disk.iterdir()) == ["keep.raw"]
    assert await streaming.RcloneAdapter().delete(dst, []) == []
    assert len(started) == 1


@pytest.mark.parametrize("kind", ["s3", "webdav"])
async def test_an_interrupted_runs_temporaries_are_swept_from_remote_storage(
    lab: Lab, tmp_path: Path, kind: str
) -> None:
    """What a killed harvest left under temporary names in the instrument's folder goes;
    verified copies, other instruments' folders and look-alike names stay."""
    dst, on_disk = destination(lab, kind, tmp_path, "sweep")
    left = {
        f"microscope/.a.raw{TEMP_MARK}1f2e": b"half",
        f"microscope/run/.b.raw{TEMP_MARK}3c4d": b"half",
        "microscope/a.raw": b"verified",
        "microscope/run/swpart-b.raw": b"not ours",
        f"other/.c.raw{TEMP_MARK}5e6f": b"another instrument's",
    }
    for path, data in left.items():
        (on_disk / path).parent.mkdir(parents=True, exist_ok=True)
        (on_disk / path).write_bytes(data)

    removed = await sweep_remote_temporaries(streaming.RcloneAdapter(), dst, "microscope")

    assert removed == 2
    kept = sorted(p.relative_to(on_disk).as_posix() for p in on_disk.rglob("*") if p.is_file())
    assert kept == sorted(path for path in left if "/." not in path or path.startswith("other"))
    assert await sweep_remote_temporaries(streaming.RcloneAdapter(), dst, "empty") == 0
