"""Verified copies against plain tools, in the same run, on tmpfs.

Each figure alternates our copy with its baselines for several rounds and compares
medians (this machine's I/O speed moves by 2x from one minute to the next):

  small   20,000 files of 4 KiB, local -> local: ours vs `rclone copy`, `cp -r`
  large   one 2 GiB file, local -> local:       ours vs `cp`, `rclone copyto`
  samba   simlab Samba -> local, 2,000 x 64 KiB and one 1 GiB file: ours vs `rclone copy`

Ours verifies every file (source hashed while copying, copy re-read and hashed, renamed
only on a match); `rclone copy` does its default checks; `cp` checks nothing.

    python bench/transfers.py [--rounds 3] [--only small,large,samba]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from streamweave.simlab.servers import start_lab
from streamweave.transfers.base import CopyItem, Location
from streamweave.transfers.native import NativeAdapter
from streamweave.transfers.rclone import rclone_binary
from streamweave.transfers.streaming import RcloneAdapter

TMPFS = Path("/dev/shm")
TARGETS = {
    ("small", "rclone copy"): 1.5,
    ("small", "cp -r"): 0.4,
    ("large", "cp"): 0.8,
    ("large", "rclone copyto"): 1.3,
    ("samba", "rclone copy"): 1.0,
}


def _fill(path: Path, size: int, block: bytes) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            piece = block[: min(len(block), remaining)]
            handle.write(piece)
            remaining -= len(piece)


def make_small(root: Path, count: int, size: int) -> None:
    block = os.urandom(size)
    for index in range(count):
        directory = root / f"run{index // 200:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"sample_{index:05d}.dat").write_bytes(block[index % 7 :] + block[: index % 7])


def rclone_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env["RCLONE_CONFIG"] = "/nonexistent/rclone.conf"
    return env


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(
        command,
        check=True,
        env=env or rclone_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def ours(
    adapter: NativeAdapter | RcloneAdapter, source: Location, destination: Location
) -> None:
    # As a harvest copies: the source's index (one listing), then one verified batch.
    items = [CopyItem(e.path, e.path, e.size) for e in await adapter.index(source)]
    concurrency = 2 if isinstance(adapter, NativeAdapter) else 8
    results = await adapter.copy_batch(
        source, destination, items, algorithm="xxh3-128", concurrency=concurrency
    )
    failed = [r for r in results if not r.verified]
    if failed:
        raise SystemExit(f"{len(failed)} copies not verified, e.g. {failed[0].error}")


def timed(prepare: Callable[[], None], action: Callable[[], None]) -> float:
    prepare()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def compare(
    name: str, contenders: dict[str, Callable[[], None]], reset: Callable[[], None], rounds: int
) -> None:
    samples: dict[str, list[float]] = {label: [] for label in contenders}
    for _ in range(rounds):
        for label, action in contenders.items():
            samples[label].append(timed(reset, action))
    medians = {label: statistics.median(values) for label, values in samples.items()}
    for label, seconds in medians.items():
        if label == "ours":
            continue
        ratio = seconds / medians["ours"]  # same work: speed ratio = inverse time ratio
        target = TARGETS.get((name, label))
        verdict = "" if target is None else (" ok" if ratio >= target else " BELOW TARGET")
        print(
            f"{name:6} ours vs {label:14} {ratio:5.2f}x  (target >= {target}){verdict}   "
            f"medians: ours {medians['ours']:.2f} s, {label} {seconds:.2f} s"
        )


def bench_small(work: Path, rounds: int) -> None:
    source, destination = work / "small-src", work / "small-dst"
    make_small(source, 20_000, 4096)
    src, dst = Location("local", str(source)), Location("posix", str(destination))

    def reset() -> None:
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir()

    compare(
        "small",
        {
            "ours": lambda: asyncio.run(ours(NativeAdapter(), src, dst)),
            "rclone copy": lambda: run([rclone_binary(), "copy", str(source), str(destination)]),
            "cp -r": lambda: run(["cp", "-r", f"{source}/.", str(destination)]),
        },
        reset,
        rounds,
    )
    shutil.rmtree(source)
    shutil.rmtree(destination, ignore_errors=True)


def bench_large(work: Path, rounds: int) -> None:
    source, destination = work / "large-src", work / "large-dst"
    source.mkdir()
    _fill(source / "big.raw", 2 << 30, os.urandom(16 << 20))
    src, dst = Location("local", str(source)), Location("posix", str(destination))

    def reset() -> None:
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir()

    compare(
        "large",
        {
            "ours": lambda: asyncio.run(ours(NativeAdapter(), src, dst)),
            "cp": lambda: run(["cp", str(source / "big.raw"), str(destination / "big.raw")]),
            "rclone copyto": lambda: run(
                [rclone_binary(), "copyto", str(source / "big.raw"), str(destination / "big.raw")]
            ),
        },
        reset,
        rounds,
    )
    shutil.rmtree(source)
    shutil.rmtree(destination, ignore_errors=True)


def bench_samba(work: Path, rounds: int) -> None:
    share, destination = work / "share", work / "samba-dst"
    make_small(share / "runs", 2000, 64 << 10)
    _fill(share / "big.raw", 1 << 30, os.urandom(16 << 20))
    lab = start_lab(share, servers=("smb",))
    try:
        smb = lab.smb
        source = Location(
            "cifs",
            "",
            {"host": smb.host, "port": smb.port, "share": smb.share, "username": smb.username},
            secrets=lambda: {"password": smb.password},
        )
        dst = Location("posix", str(destination))
        env = {**rclone_env(), **smb.rclone_env("lab")}

        def reset() -> None:
            shutil.rmtree(destination, ignore_errors=True)
            destination.mkdir()

        compare(
            "samba",
            {
                "ours": lambda: asyncio.run(ours(RcloneAdapter(), source, dst)),
                "rclone copy": lambda: run(
                    [rclone_binary(), "copy", f"lab:{smb.share}", str(destination)], env
                ),
            },
            reset,
            rounds,
        )
    finally:
        lab.stop()
        shutil.rmtree(share, ignore_errors=True)
        shutil.rmtree(destination, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="small,large,samba")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sw-bench-", dir=TMPFS if TMPFS.is_dir() else None))
    try:
        for name in args.only.split(","):
            {"small": bench_small, "large": bench_large, "samba": bench_samba}[name](
                work, args.rounds
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
