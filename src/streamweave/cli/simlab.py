"""`streamweave simlab`: sample instrument data and real file servers on loopback."""

from __future__ import annotations

import contextlib
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from streamweave.simlab import SERVER_KINDS
from streamweave.simlab.datasets import DEFAULT_LARGE_BYTES, MIB, Manifest, generate
from streamweave.simlab.errors import LabError
from streamweave.simlab.samba import check_samba

if TYPE_CHECKING:
    from streamweave.simlab.servers import Lab

simlab_app = typer.Typer(
    help="Simulated lab: sample instrument data and real SMB/S3/SFTP/WebDAV servers on loopback.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

LargeMib = Annotated[
    int,
    typer.Option("--large-mib", min=0, help="Size of the one large file in MiB (0 leaves it out)"),
]
Seed = Annotated[int, typer.Option(help="Seed: the same seed writes the same files")]


def _generate(directory: Path, large_mib: int, seed: int) -> Manifest:
    try:
        return generate(directory, large_bytes=large_mib * MIB, seed=seed)
    except LabError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None


def _size(count: int) -> str:
    return f"{count / MIB:.1f} MiB"


@simlab_app.command("generate")
def generate_command(
    directory: Annotated[
        Path, typer.Argument(help="Empty or new directory to write the dataset into")
    ],
    large_mib: LargeMib = DEFAULT_LARGE_BYTES // MIB,
    seed: Seed = 0,
    manifest: Annotated[
        Path | None,
        typer.Option(help="Also write the manifest (paths, sizes, checksums) as JSON here"),
    ] = None,
) -> None:
    """Write the sample instrument dataset into DIRECTORY."""
    result = _generate(directory, large_mib, seed)
    if manifest is not None:
        manifest.write_text(result.to_json())
    console.print(
        f"wrote {len(result)} files ({_size(result.total_bytes)}, {result.algorithm}) "
        f"to {directory}"
    )


def _table(lab: Lab) -> Table:
    table = Table(title="StreamWeave simulated lab (throwaway credentials)")
    for column in (
        "server",
        "endpoint",
        "user / access key",
        "password / secret",
        "instrument",
        "archive",
        "ready in",
    ):
        table.add_column(column)
    for kind, server in lab.servers.items():
        info = server.details()
        table.add_row(
            kind,
            info["endpoint"],
            info["user"],
            info["secret"],
            info["instrument"],
            info["archive"],
            f"{lab.startup_seconds.get(kind, 0.0):.2f} s",
        )
    return table


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[set[signal.Signals]]:
    """Hold SIGINT and SIGTERM pending, so that they are taken by ``signal.sigwait``.

    Once one is taken both are ignored: a second Ctrl+C must not cut the shutdown short
    and leave a server running.
    """
    stop = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        yield stop
    finally:
        for signum in stop:
            signal.signal(signum, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@simlab_app.command("up")
def up_command(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Dataset to serve; generated first if empty or new (default: a temporary one)",
        ),
    ] = None,
    archive_dir: Annotated[
        Path | None,
        typer.Option(
            "--archive-dir", help="Writable area behind every server (default: temporary)"
        ),
    ] = None,
    server: Annotated[
        list[str] | None,
        typer.Option("--server", help=f"Start only these (repeatable): {', '.join(SERVER_KINDS)}"),
    ] = None,
    large_mib: LargeMib = DEFAULT_LARGE_BYTES // MIB,
    seed: Seed = 0,
) -> None:
    """Start the lab's servers on loopback, print how to connect, run until Ctrl+C or SIGTERM."""
    # SIGTERM during start-up must unwind like Ctrl+C, so that servers and temporary
    # directories are cleaned up.
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="sw-simlab-data-"))
            )
        if not directory.exists() or not any(directory.iterdir()):
            console.print(f"generating the sample dataset in {directory} ...")
            manifest = _generate(directory, large_mib, seed)
            console.print(f"wrote {len(manifest)} files ({_size(manifest.total_bytes)})")
        kinds = server or list(SERVER_KINDS)
        if "smb" in kinds:
            try:
                check_samba()
            except LabError as exc:
                err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
                others = " ".join(f"--server {kind}" for kind in SERVER_KINDS if kind != "smb")
                err.print(f"to run without Samba: {others}")
                raise typer.Exit(1) from None
        from streamweave.simlab.servers import running_lab  # the servers' clients: only here

        try:
            lab = stack.enter_context(running_lab(directory, kinds, archive_dir=archive_dir))
        except LabError as exc:
            err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted during start-up; stopped")
            raise typer.Exit(130) from None
        with _stop_signals_held() as stop:
            console.print(_table(lab))
            console.print(f"dataset: {lab.dataset_dir}\narchive: {lab.archive_dir}")
            console.print("Ctrl+C or SIGTERM stops the lab")
            received = signal.Signals(signal.sigwait(stop)).name
        console.print(f"{received}: stopping ...")
    console.print("stopped")
