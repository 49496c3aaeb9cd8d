"""GET /api/files at a million rows: first page, a page 500,000 deep, a path prefix.

Bulk-inserts N file records (default 1,000,000) granted to a group, then times the
API in-process (ASGI, full FastAPI stack, real database) as an admin and as a
regular user whose access comes from that group grant. The baseline, measured in the
same run, is GET /api/files/{id} for one file (a primary-key lookup through the same
stack); each figure is printed as a ratio to it, next to its p95 against the 50 ms
target.

    python bench/api_files.py --db sqlite
    python bench/api_files.py --db postgresql   # server at 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from streamweave.api.app import create_app
from streamweave.auth.manager import UserManager, UserStore
from streamweave.auth.schemas import UserCreate
from streamweave.config import Settings, prepare_settings
from streamweave.db.engine import create_engine
from streamweave.db.migrate import upgrade
from streamweave.db.models import Group, GroupMember, Instrument
from streamweave.services import catalog, people

TARGET_MS = 50.0
FILES_PER_RUN = 1000
PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"


async def _pg(sql: str) -> None:
    engine = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(sql))
    await engine.dispose()


def _file_rows(
    instrument_id: uuid.UUID, start: int, count: int, epoch: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "persistent_id": f"ark:/99999/fk4bench{i:08d}",
            "instrument_id": instrument_id,
            "source_path": f"run{i // FILES_PER_RUN:04d}/sample_{i:07d}.raw",
            "filename": f"sample_{i:07d}.raw",
            "size_bytes": 4096,
            "source_mtime": epoch + timedelta(seconds=i),
            "xxhash": f"{i:032x}",
            "first_discovered_at": epoch + timedelta(seconds=i),
            "metadata_": {},
        }
        for i in range(start, start + count)
    ]


async def populate(app: Any, files: int) -> dict[str, Any]:
    context = app.state.context
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    async with context.sessionmaker() as session:
        manager = UserManager(UserStore(session), context.settings)
        admin = await people.create_user(
            session,
            manager,
            None,
            UserCreate(email="admin@bench.org", password="benchmark-pass", role="admin"),
            trusted=True,
        )
        user = await people.create_user(
            session,
            manager,
            None,
            UserCreate(email="alice@bench.org", password="benchmark-pass"),
            trusted=True,
        )
        instrument = Instrument(name="NMR 600", completion_rule={"mode": "none"})
        group = Group(name="NMR users")
        session.add_all([instrument, group])
        await session.flush()
        session.add(GroupMember(group_id=group.id, user_id=user.id))
        await session.commit()
        started = time.perf_counter()
        ids: list[uuid.UUID] = []
        batch = 50_000
        for start in range(0, files, batch):
            rows = _file_rows(instrument.id, start, min(batch, files - start), epoch)
            await catalog.add_files(session, rows)
            await session.commit()
            ids.extend(row["id"] for row in rows)
        inserted = time.perf_counter() - started
        for start in range(0, files, batch):
            await catalog.grant_files(session, "group", group.id, ids[start : start + batch])
            await session.commit()
        granted = time.perf_counter() - started - inserted
        if context.engine.dialect.name == "postgresql":
            async with context.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
        else:
            async with context.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        return {
            "admin": context.sessions.issue(admin),
            "user": context.sessions.issue(user),
            "probe_file": ids[files // 2],
            "insert_s": inserted,
            "grant_s": granted,
        }


async def timed(client: httpx.AsyncClient, url: str, token: str, rounds: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        (await client.get(url, headers=headers)).raise_for_status()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


async def run(backend: str, files: int, rounds: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="sw-bench-") as tmp:
        name = f"sw_bench_{uuid.uuid4().hex[:8]}"
        if backend == "postgresql":
            await _pg(f'CREATE DATABASE "{name}"')
            url = f"{PG_SERVER}/{name}"
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        try:
            settings = prepare_settings(Settings(env="test", data_dir=Path(tmp), database_url=url))
            engine = create_engine(settings.sqlalchemy_url)
            await upgrade(engine)
            await engine.dispose()
            app = create_app(settings)
            setup = await populate(app, files)
            print(
                f"[{backend}] {files:,} files inserted in {setup['insert_s']:.1f} s, "
                f"granted to a group in {setup['grant_s']:.1f} s"
            )
            transport = httpx.ASGITransport(app=app)
            ok = True
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                deep = min(500_000, files - 100)
                prefix = f"run{(files // FILES_PER_RUN) // 2:04d}/"
                for role in ("admin", "user"):
                    token = setup[role]
                    baseline = p95(
                        await timed(client, f"/api/files/{setup['probe_file']}", token, rounds)
                    )
                    for label, url in (
                        ("first page", "/api/files?limit=100"),
                        (f"page {deep:,} deep", f"/api/files?limit=100&skip={deep}"),
                        (f"path prefix {prefix}", f"/api/files?limit=100&path_prefix={prefix}"),
                    ):
                        figure = p95(await timed(client, url, token, rounds))
                        ok &= figure < TARGET_MS
                        print(
                            f"[{backend}] {role:5} {label:24} "
                            f"p95/baseline {figure / baseline:5.2f}x   "
                            f"p95 {figure:6.1f} ms (target < {TARGET_MS:.0f})   "
                            f"baseline p95 {baseline:.1f} ms"
                        )
            await app.state.context.engine.dispose()
            return ok
        finally:
            if backend == "postgresql":
                await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = [asyncio.run(run(backend, args.files, args.rounds)) for backend in backends]
    raise SystemExit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
