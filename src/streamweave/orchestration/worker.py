"""A worker of the `streamweave` pool: polls Prefect for due harvests and runs each in
a process of its own (Prefect's process worker), on any machine that reaches the
database and the Prefect server.

Shutdown: the first SIGINT or SIGTERM stops taking runs and asks the running ones
to stop after the batch in hand; a second one asks them to stop at once (they cancel
and remove their temporary copies). The worker exits when its runs have ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from streamweave.config import load_settings
from streamweave.db.engine import create_engine, create_sessionmaker
from streamweave.orchestration.errors import OrchestratorUnavailable
from streamweave.orchestration.names import POOL
from streamweave.orchestration.shutdown import CONTROL_ENV, Control
from streamweave.services import notice_digests

DEFAULT_POLL_SECONDS = 2.0
SERVER_WAIT_SECONDS = 180.0
READY_FILE = "ready"


class Shutdown:
    """Counts shutdown signals: the first stops, the second aborts."""

    def __init__(self, control: Control, say: Callable[[str], None]) -> None:
        self.control = control
        self.say = say
        self.stopping = asyncio.Event()
        self.signals = 0

    def __call__(self) -> None:
        self.signals += 1
        if self.signals == 1:
            self.control.request_stop()
            self.stopping.set()
            self.say("stopping: running harvests finish their current batch (again to abort)")
        else:
            self.control.request_abort()
            self.say("aborting: running harvests stop now and remove their temporary copies")


def prepare_environment(control_dir: Path) -> None:
    """What the worker's flow-run processes inherit: the control directory, and
    StreamWeave's loggers attached to the flow run's logs."""
    control_dir.mkdir(parents=True, exist_ok=True)
    os.environ[CONTROL_ENV] = str(control_dir)
    extra = os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS", "")
    if "streamweave" not in extra.split(","):
        os.environ["PREFECT_LOGGING_EXTRA_LOGGERS"] = ",".join(filter(None, [extra, "streamweave"]))


async def work(
    control_dir: Path,
    limit: int,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    name: str | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Run the worker until a shutdown signal, then wait for its runs to end; meanwhile
    send the notice e-mails that come due."""
    from streamweave.orchestration.connection import required_url
    from streamweave.orchestration.server import healthy

    control = Control(control_dir)
    shutdown = Shutdown(control, say)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, shutdown)
    # Started next to the Prefect server by `up`: wait for it rather than fail.
    url, deadline = required_url(), time.monotonic() + SERVER_WAIT_SECONDS
    while not await asyncio.to_thread(healthy, url):
        if shutdown.stopping.is_set():
            return
        if time.monotonic() > deadline:
            raise OrchestratorUnavailable(f"the Prefect server at {url} did not answer")
        await asyncio.sleep(0.5)
    worker_name = name or f"{socket.gethostname()}-{os.getpid()}"
    settings = load_settings()
    engine = create_engine(settings.sqlalchemy_url)
    digests = asyncio.create_task(
        notice_digests.send_periodically(create_sessionmaker(engine), settings, shutdown.stopping)
    )
    try:
        await _poll(control_dir, worker_name, limit, poll_seconds, shutdown, say)
    finally:
        shutdown.stopping.set()
        await digests
        await engine.dispose()


async def _poll(
    control_dir: Path,
    worker_name: str,
    limit: int,
    poll_seconds: float,
    shutdown: Shutdown,
    say: Callable[[str], None],
) -> None:
    from prefect.workers.process import ProcessWorker

    async with ProcessWorker(
        work_pool_name=POOL,
        name=worker_name,
        limit=limit,
        create_pool_if_not_found=True,
    ) as worker:
        await worker.sync_with_backend()
        synced = time.monotonic()
        (control_dir / READY_FILE).touch()
        say(f"worker {worker_name!r} polls work pool {POOL!r} (up to {limit} harvests at once)")
        while not shutdown.stopping.is_set():
            if time.monotonic() - synced > worker.heartbeat_interval_seconds:
                await worker.sync_with_backend()
                synced = time.monotonic()
            await worker.get_and_submit_flow_runs()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shutdown.stopping.wait(), poll_seconds)
        # Leaving the block waits for the runs this worker started.


def main() -> None:
    """``python -m streamweave.orchestration.worker``: what `streamweave up` starts."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--poll", type=float, default=DEFAULT_POLL_SECONDS)
    args = parser.parse_args()
    control_dir = Path(os.environ.get(CONTROL_ENV) or tempfile.mkdtemp(prefix="streamweave-"))
    prepare_environment(control_dir)
    asyncio.run(work(control_dir, args.limit, args.poll))


if __name__ == "__main__":
    main()
