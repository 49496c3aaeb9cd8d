"""An embedded Prefect server: ``prefect server start`` as a child process with its
own home and SQLite database under StreamWeave's data directory.

Prefect's database is its own (it keeps its own ``alembic_version`` table): it is
never StreamWeave's database, whatever ``STREAMWEAVE_DATABASE_URL`` says.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from streamweave.errors import ConfigurationError

STARTUP_SECONDS = 120.0
STOP_SECONDS = 15.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API at ``url`` answers its health check."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def prefect_environment(home: Path) -> dict[str, str]:
    """The variables that give a Prefect process its own home and database, with no
    telemetry (a lab server may have no Internet access) and no block catalogue
    (StreamWeave uses no Prefect blocks; registering them costs a third of a first
    start)."""
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }


class PrefectServer:
    """A Prefect server child process; ``url`` is its API."""

    def __init__(
        self,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int | None = None,
        log: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        """``settings``: further PREFECT_* variables for the server."""
        self.settings = settings or {}
        self.home = data_dir / "prefect"
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log or self.home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def check_port(self) -> None:
        if port_in_use(self.host, self.port):
            raise ConfigurationError(
                f"port {self.port} on {self.host} is taken: stop what uses it, choose another "
                "Prefect port, or point PREFECT_API_URL at a running Prefect server"
            )

    def start(self) -> None:
        self.check_port()
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own session: a Ctrl+C in the terminal reaches whoever started it,
            # which stops the server last, after the harvests that report to it.
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                self.argv(),
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def environment(self) -> dict[str, str]:
        """This process's environment without Prefect's or StreamWeave's database
        settings, plus the server's own home and database."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PREFECT_") and key != "STREAMWEAVE_DATABASE_URL"
        }
        env.update(prefect_environment(self.home))
        env.update(self.settings)
        return env

    def wait_healthy(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ConfigurationError(
                    f"the Prefect server stopped while starting (exit {self.process.returncode}); "
                    f"see {self.log_path}"
                )
            if healthy(self.url):
                return
            time.sleep(0.5)
        raise ConfigurationError(
            f"the Prefect server did not become healthy in {timeout:.0f} s; see {self.log_path}"
        )

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> PrefectServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
