"""`streamweave harvest` (one harvest, in this process) and `streamweave files`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.config import Settings, load_settings
from streamweave.errors import ConfigurationError, StreamWeaveError

console = Console()
err = Console(stderr=True)
files_app = typer.Typer(help="List and show harvested files and their ARKs.", no_args_is_help=True)


class BarReporter:
    """The harvest's progress as rich bars: files, bytes, rate and time left."""

    def __init__(self, progress: Progress) -> None:
        self.bar = progress
        self.task: TaskID | None = None
        self.files: TaskID | None = None
        self.files_total = 0
        self.bytes_total = 0

    def stage(self, name: str) -> None:
        if name != "transferring":
            self.bar.console.print(f"[dim]{name}...[/dim]")

    def planned(self, files: int, nbytes: int) -> None:
        """More to copy (the plan arrives a page at a time): the totals grow."""
        if self.files is None or self.task is None:
            self.files = self.bar.add_task("files", total=0)
            self.task = self.bar.add_task("bytes", total=0)
        self.files_total += files
        self.bytes_total += nbytes
        self.bar.update(self.files, total=self.files_total)
        self.bar.update(self.task, total=self.bytes_total)

    def progress(self, files_done: int, files_failed: int, nbytes: int) -> None:
        if self.files is not None:
            failed = f" ([red]{files_failed} failed[/red])" if files_failed else ""
            self.bar.update(
                self.files, completed=files_done + files_failed, description=f"files{failed}"
            )
        if self.task is not None:
            self.bar.update(self.task, completed=nbytes)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


async def _find(session: AsyncSession, model: Any, key: str, what: str) -> Any:
    """A live row by id or by name, or a configuration error naming the choices."""
    condition = model.name == key
    with contextlib.suppress(ValueError):
        condition = or_(condition, model.id == uuid.UUID(key))
    row = await session.scalar(select(model).where(condition, model.deleted_at.is_(None)))
    if row is None:
        names = (await session.scalars(select(model.name).where(model.deleted_at.is_(None)))).all()
        choices = ", ".join(sorted(names)) or "none yet"
        raise ConfigurationError(f"no {what} named {key!r}; there are: {choices}")
    return row


async def _require_schema(session: AsyncSession) -> None:
    from sqlalchemy import inspect

    tables = await session.run_sync(lambda s: inspect(s.connection()).get_table_names())
    if "harvest_entries" not in tables:
        raise ConfigurationError(
            "the database has no StreamWeave tables (or old ones): run `streamweave migrate`"
        )


async def _default_storage(session: AsyncSession, instrument: Any) -> Any:
    from streamweave.db.models import HarvestSchedule, StorageLocation

    storage_ids = set(
        (
            await session.scalars(
                select(HarvestSchedule.default_storage_location_id).where(
                    HarvestSchedule.instrument_id == instrument.id,
                    HarvestSchedule.deleted_at.is_(None),
                )
            )
        ).all()
    )
    if len(storage_ids) == 1:
        return await session.get(StorageLocation, storage_ids.pop())
    live = (
        await session.scalars(select(StorageLocation).where(StorageLocation.deleted_at.is_(None)))
    ).all()
    if len(live) == 1:
        return live[0]
    raise ConfigurationError(
        f"instrument {instrument.name!r} has {len(storage_ids) or 'no'} schedules' storage "
        "locations to choose from; name one with --storage"
    )


async def _harvest(
    settings: Settings, instrument_key: str, storage_key: str | None, dry_run: bool
) -> Any:
    from streamweave.crypto import SecretBox
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.db.models import Instrument, StorageLocation
    from streamweave.harvest.pipeline import Harvest, HarvestOptions

    # What the imports made lives until the process ends: out of the collector's sight,
    # the harvest's large listings are collected without walking SQLAlchemy's and
    # pydantic's objects each time (0.1 s of a re-harvest of 100,000 files).
    gc.freeze()
    engine = create_engine(settings.sqlalchemy_url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            await _require_schema(session)
            instrument = await _find(session, Instrument, instrument_key, "instrument")
            storage = (
                await _find(session, StorageLocation, storage_key, "storage location")
                if storage_key
                else await _default_storage(session, instrument)
            )
            instrument_id, storage_id = instrument.id, storage.id
        options = HarvestOptions(
            dry_run=dry_run,
            ark_naan=settings.ark_naan,
            ark_shoulder=settings.ark_shoulder,
            retry_limit=settings.harvest_retry_limit,
        )
        with _progress() as bar:
            harvest = Harvest(sessions, SecretBox(settings.fernet_keys), options, BarReporter(bar))
            try:
                summary = await harvest.run(instrument_id, storage_id)
            except Exception as exc:  # an interrupted harvest (Ctrl+C) is nobody's failure
                await _notify(sessions, settings, instrument_id, harvest.summary, exc)
                raise
            await _notify(sessions, settings, instrument_id, summary, None)
            return summary
    finally:
        await engine.dispose()


async def _notify(
    sessions: Any,
    settings: Settings,
    instrument_id: uuid.UUID,
    summary: Any,
    error: Exception | None,
) -> None:
    """Admins hear of failures and recoveries; a problem doing so never changes the
    harvest's own result or exit code."""
    from sqlalchemy.exc import SQLAlchemyError

    from streamweave.services.harvest_notices import notify_harvest_finished

    try:
        await notify_harvest_finished(sessions, settings, instrument_id, summary, error)
    except SQLAlchemyError as exc:
        err.print(f"[yellow]admins could not be notified of this harvest:[/yellow] {exc}")


def _print_summary(summary: Any) -> None:
    table = Table(title=f"{summary.instrument} -> {summary.storage}: {summary.status}")
    table.add_column("files")
    table.add_column("count", justify="right")
    rows = [
        ("listed", summary.listed),
        ("new", summary.new),
        ("copied and verified" if summary.status != "dry_run" else "to copy", summary.completed),
        ("failed", summary.failed),
        ("permanently failed", summary.permanently_failed),
        ("skipped by a rule", summary.skipped),
        ("waiting (still being written)", summary.waiting),
        ("waiting to retry", summary.retry_later),
        ("unchanged", summary.unchanged),
        ("gone from the source", summary.vanished),
        ("removed from the instrument (clean-up)", summary.cleaned),
    ]
    for label, count in rows:
        table.add_row(label, str(count))
    console.print(table)
    mib = summary.bytes / (1 << 20)
    console.print(
        f"{mib:.1f} MiB in {summary.seconds:.1f} s ({summary.rate:.0f} files/s)"
        if summary.status != "dry_run"
        else f"{mib:.1f} MiB would be copied"
    )
    for error in summary.errors:
        err.print(f"[red]{error}[/red]")


def harvest(
    instrument: Annotated[str, typer.Argument(help="Instrument name or id")],
    storage: Annotated[
        str | None, typer.Option("--storage", help="Storage location name or id")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be copied; change nothing")
    ] = False,
) -> None:
    """Harvest one instrument now, in this process (no orchestrator needed).

    Exit code 0 when everything eligible was verified, 1 when some files failed,
    2 for configuration errors.
    """
    try:
        settings = load_settings()
        summary = asyncio.run(_harvest(settings, instrument, storage, dry_run))
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    except StreamWeaveError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


async def _list_files(settings: Settings, instrument: str | None, prefix: str, limit: int) -> Any:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.db.models import FileRecord, Instrument

    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            query = select(FileRecord).order_by(FileRecord.seq).limit(limit)
            if instrument:
                found = await _find(session, Instrument, instrument, "instrument")
                query = query.where(FileRecord.instrument_id == found.id)
            if prefix:
                query = query.where(FileRecord.source_path.startswith(prefix, autoescape=True))
            return (await session.scalars(query)).all()
    finally:
        await engine.dispose()


@files_app.command("list")
def files_list(
    instrument: Annotated[str | None, typer.Option(help="Instrument name or id")] = None,
    prefix: Annotated[str, typer.Option(help="Only paths starting with this")] = "",
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
) -> None:
    """List harvested files (oldest first) with their ARKs."""
    try:
        rows = asyncio.run(_list_files(load_settings(), instrument, prefix, limit))
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    _table(
        ("ARK", "path", "bytes", "version", "checksum"),
        [
            (
                row.persistent_id,
                row.source_path,
                str(row.size_bytes),
                str(row.current_version),
                row.xxhash or row.sha256 or row.md5 or "-",
            )
            for row in rows
        ],
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table on a terminal; tab-separated lines, whole, for pipes and scripts (a table
    fitted to 80 columns would cut identifiers short)."""
    if not console.is_terminal:
        for row in (header, *rows):
            typer.echo("\t".join(row))
        return
    table = Table(*header)
    for row in rows:
        table.add_row(*row)
    console.print(table)


async def _show_file(settings: Settings, key: str) -> Any:
    from streamweave.db.engine import create_engine, create_sessionmaker
    from streamweave.db.models import FileRecord, FileTransfer, FileVersion

    engine = create_engine(settings.sqlalchemy_url)
    try:
        async with create_sessionmaker(engine)() as session:
            condition = FileRecord.persistent_id == key
            with contextlib.suppress(ValueError):
                condition = or_(condition, FileRecord.id == uuid.UUID(key))
            record = await session.scalar(select(FileRecord).where(condition))
            if record is None:
                version = await session.scalar(
                    select(FileVersion).where(FileVersion.persistent_id == key)
                )
                if version is not None:
                    record = await session.get(FileRecord, version.file_id)
            if record is None:
                raise ConfigurationError(f"no harvested file with id or ARK {key!r}")
            versions = (
                await session.scalars(
                    select(FileVersion)
                    .where(FileVersion.file_id == record.id)
                    .order_by(FileVersion.version)
                )
            ).all()
            transfers = (
                await session.scalars(
                    select(FileTransfer)
                    .where(FileTransfer.file_id == record.id)
                    .order_by(FileTransfer.created_at)
                )
            ).all()
            return record, versions, transfers
    finally:
        await engine.dispose()


@files_app.command("show")
def files_show(key: Annotated[str, typer.Argument(help="File id or ARK")]) -> None:
    """One file: its ARK, versions, checksums and transfers."""
    try:
        record, versions, transfers = asyncio.run(_show_file(load_settings(), key))
    except ConfigurationError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[bold]{record.source_path}[/bold]  {record.persistent_id}")
    console.print(
        f"size {record.size_bytes} bytes, version {record.current_version}, "
        f"metadata {record.metadata_ or {}}"
    )
    _table(
        ("version", "ARK", "bytes", "checksum", "discovered"),
        [
            (
                str(version.version),
                version.persistent_id,
                str(version.size_bytes),
                version.xxhash or version.sha256 or version.md5 or "-",
                version.discovered_at.isoformat(timespec="seconds"),
            )
            for version in versions
        ],
    )
    _table(
        ("when", "status", "verified", "destination", "error"),
        [
            (
                transfer.created_at.isoformat(timespec="seconds"),
                transfer.status,
                "yes" if transfer.checksum_verified else "no",
                transfer.destination_path or "",
                transfer.error_message or "",
            )
            for transfer in transfers
        ],
    )
