"""Harvests against `rclone copy` in the same run, on tmpfs, on SQLite and PostgreSQL.

  first     20,000 files of 4 KiB, local -> posix, every record, ARK, checksum and
            audit row written: ours >= 1.0x the files/s of `rclone copy`
  reharvest 100,000 unchanged files: the whole `streamweave harvest` command (start-up
            included) <= 1.0x the time of `rclone copy` re-syncing the unchanged tree,
            and the pipeline alone (in-process) <= 0.5x
  memory    peak memory while discovering and planning 1,000,000 files (a synthetic
            listing, new to the database): < 500 MB

Each figure alternates ours with the baseline for several rounds and compares medians.

    python bench/harvest.py [--db sqlite,postgresql] [--rounds 3] [--only first,reharvest,memory]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import text

from streamweave.config import Settings, prepare_settings
from streamweave.crypto import SecretBox
from streamweave.db.engine import create_engine, create_sessionmaker
from streamweave.db.migrate import upgrade
from streamweave.db.models import Instrument, StorageLocation
from streamweave.harvest.pipeline import Harvest
from streamweave.transfers.rclone import clean_environment, rclone_binary

TMPFS = Path("/dev/shm")
PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


def make_tree(root: Path, count: int, size: int) -> None:
    block = os.urandom(size + 7)
    for index in range(count):
        directory = root / f"run{index // 500:04d}"
        if index % 500 == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"sample_{index:06d}.dat").write_bytes(block[index % 7 : index % 7 + size])


def rclone_copy(source: Path, destination: Path) -> None:
    subprocess.run(
        [rclone_binary(), "copy", str(source), str(destination)],
        check=True,
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _pg(sql: str) -> None:
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(sql))
    await engine.dispose()


@asynccontextmanager
async def database(kind: str, work: Path) -> AsyncIterator[Settings]:
    """A fresh, migrated database and the settings that point at it."""
    name = f"swbench_{uuid.uuid4().hex[:8]}"
    url = f"sqlite+aiosqlite:///{work / name}.db" if kind == "sqlite" else f"{PG_SERVER}/{name}"
    if kind == "postgresql":
        await _pg(f'CREATE DATABASE "{name}"')
    settings = prepare_settings(
        Settings(env="test", data_dir=work / f"{name}-data", database_url=url)
    )
    engine = create_engine(settings.sqlalchemy_url)
    await upgrade(engine)
    await engine.dispose()
    try:
        yield settings
    finally:
        if kind == "postgresql":
            await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def instrument_and_storage(
    settings: Settings, source: Path, storage: Path, name: str
) -> tuple[uuid.UUID, uuid.UUID]:
    storage.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.sqlalchemy_url)
    async with create_sessionmaker(engine)() as session:
        instrument = Instrument(
            name=name,
            source_type="local",
            source_config={"path": str(source)},
            completion_rule={"mode": "none"},
        )
        location = StorageLocation(name=f"{name}-archive", type="posix", base_path=str(storage))
        session.add_all([instrument, location])
        await session.commit()
        ids = instrument.id, location.id
    await engine.dispose()
    return ids


async def harvest_once(settings: Settings, instrument: uuid.UUID, storage: uuid.UUID) -> Any:
    engine = create_engine(settings.sqlalchemy_url)
    try:
        harvest = Harvest(create_sessionmaker(engine), SecretBox(settings.fernet_keys))
        return await harvest.run(instrument, storage)
    finally:
        await engine.dispose()


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def report(
    name: str, label: str, ours: float, theirs: float, target: float, *, faster: bool
) -> None:
    """``faster``: the target is a speed ratio (>=), else a time ratio (<=)."""
    ratio = theirs / ours if faster else ours / theirs
    ok = ratio >= target if faster else ratio <= target
    sign = ">=" if faster else "<="
    print(
        f"{name:26} {ratio:5.2f}x  (target {sign} {target}) {'ok' if ok else 'BELOW TARGET'}"
        f"   medians: ours {ours:.2f} s, {label} {theirs:.2f} s",
        flush=True,
    )


async def bench_first(kind: str, work: Path, rounds: int) -> None:
    source = work / "first-src"
    make_tree(source, 20_000, 4096)
    ours, theirs = [], []
    for round_ in range(rounds):
        async with database(kind, work) as settings:
            storage = work / f"first-dst-{round_}"
            ids = await instrument_and_storage(settings, source, storage, f"bench{round_}")
            started = time.perf_counter()
            summary = await harvest_once(settings, *ids)
            ours.append(time.perf_counter() - started)
            assert summary.completed == 20_000, summary
        shutil.rmtree(work / f"first-dst-{round_}", ignore_errors=True)
        target = work / "first-rclone"
        theirs.append(await asyncio.to_thread(timed, partial(rclone_copy, source, target)))
        shutil.rmtree(target, ignore_errors=True)
    report(
        f"first 20k x 4 KiB {kind}",
        "rclone copy",
        statistics.median(ours),
        statistics.median(theirs),
        1.0,
        faster=True,
    )
    shutil.rmtree(source)


async def bench_reharvest(kind: str, work: Path, rounds: int) -> None:
    source, storage, copy = work / "re-src", work / "re-dst", work / "re-rclone"
    make_tree(source, 100_000, 16)
    async with database(kind, work) as settings:
        ids = await instrument_and_storage(settings, source, storage, "rebench")
        first = await harvest_once(settings, *ids)
        assert first.completed == 100_000, first
        await asyncio.to_thread(rclone_copy, source, copy)
        env = {
            **os.environ,
            "STREAMWEAVE_DATABASE_URL": settings.database_url or "",
            "STREAMWEAVE_DATA_DIR": str(settings.data_dir),
        }
        command = [sys.executable, "-m", "streamweave", "harvest", "rebench"]
        whole, pipeline, theirs = [], [], []
        for _ in range(rounds):
            whole.append(
                timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True))
            )
            started = time.perf_counter()
            again = await harvest_once(settings, *ids)
            pipeline.append(time.perf_counter() - started)
            assert again.completed == 0 and again.unchanged == 100_000, again
            theirs.append(await asyncio.to_thread(timed, lambda: rclone_copy(source, copy)))
    rclone = statistics.median(theirs)
    report(
        f"reharvest 100k cmd {kind}",
        "rclone copy",
        statistics.median(whole),
        rclone,
        1.0,
        faster=False,
    )
    report(
        f"reharvest 100k pipe {kind}",
        "rclone copy",
        statistics.median(pipeline),
        rclone,
        0.5,
        faster=False,
    )
    for path in (source, storage, copy):
        shutil.rmtree(path, ignore_errors=True)


MEMORY_PROBE = """
import asyncio, resource, sys, uuid
from datetime import UTC, datetime
from streamweave.harvest.plan import Listed, Planner
from streamweave.harvest.rules import Completion, CompletionRule

async def nothing_known():
    return
    yield

async def no_entries(paths):
    raise AssertionError("nothing is known: no entry to read")

async def main(count):
    now = datetime.now(UTC)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    listing = [Listed(f"run{i // 1000:05d}/frame_{i:07d}.tif", 4096, 1_700_000_000_000_000 + i)
               for i in range(count)]
    completion = Completion(CompletionRule(), (f.path for f in listing), 0)
    planner = Planner(uuid.uuid4(), uuid.uuid4(), completion, "", now)
    pages = 0
    async for plan in planner.pages(listing, nothing_known(), no_entries):
        pages += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(before, peak, pages)

asyncio.run(main(int(sys.argv[1])))
"""


def bench_memory() -> None:
    """Discovery's index and the paged plan of a million new files, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, "1000000"], check=True, capture_output=True, text=True
    )
    before_kib, peak_kib, _pages = map(int, done.stdout.split())
    peak_mb = peak_kib / 1024
    ok = "ok" if peak_mb < 500 else "BELOW TARGET"
    print(
        f"{'memory 1M discover+plan':26} {peak_mb:5.0f} MB (target < 500 MB) {ok}"
        f"   (interpreter and imports alone: {before_kib / 1024:.0f} MB)",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="first,reharvest,memory")
    args = parser.parse_args()
    # The in-process figures run the pipeline as `streamweave harvest` runs it: after
    # freezing what the imports made (cli/harvest.py), out of the collector's sight.
    gc.freeze()
    work = Path(tempfile.mkdtemp(prefix="sw-harvest-bench-", dir=TMPFS if TMPFS.is_dir() else None))
    try:
        only = args.only.split(",")
        for kind in args.db.split(","):
            if "first" in only:
                await bench_first(kind, work, args.rounds)
            if "reharvest" in only:
                await bench_reharvest(kind, work, args.rounds)
        if "memory" in only:
            bench_memory()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
