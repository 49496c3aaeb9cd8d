"""Server processes of the lab: found, started in a process group of their own, stopped for sure.

Every server runs as the leader of a new session, so stopping signals the whole group:
smbd forks helpers and per-connection children that must go down with it, and a
Ctrl+C in the terminal reaches the lab (which stops servers in order) rather than the
servers directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streamweave.children import stop_with_parent
from streamweave.simlab.errors import MissingBinary, ServerStartError

STOP_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.05
# Daemons live in sbin, which a non-root PATH often lacks.
_EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str, apt_package: str) -> str:
    """Absolute path of ``name``, or MissingBinary naming the Debian package to install."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    found = shutil.which(name, path=search)
    if found is None:
        raise MissingBinary(f"{name} not found: apt-get install {apt_package}")
    return found


def free_port(host: str) -> int:
    """A port that was free a moment ago; callers retry if a server loses the race for it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_table() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc."""
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2:
            table.append((int(entry.name), fields[0], int(fields[1]), int(fields[2])))
    return table


def live_group_members(pgid: int) -> list[int]:
    """Pids in process group ``pgid`` that still run (zombies excluded: they hold no port)."""
    return [pid for pid, state, _, group in process_table() if group == pgid and state != "Z"]


@dataclass
class ManagedProcess:
    """One started server: its Popen, its log, and a stop that leaves nothing behind."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
    ) -> ManagedProcess:
        log = log_path.open("ab")
        try:
            popen = subprocess.Popen(  # noqa: S603 - argv is built from fixed flags and paths
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # A lab whose Python process is killed must not leave smbd holding ports.
                preexec_fn=stop_with_parent(),
            )
        except OSError:
            log.close()
            raise
        return cls(name=name, popen=popen, log_path=log_path, _log=log)

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signum)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM the group, wait, SIGKILL what is left; returns when nothing of it runs."""
        self._signal_group(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.popen.wait(timeout)
        # Forked children (smbd's) may outlive their leader by a moment.
        deadline = time.monotonic() + timeout
        while live_group_members(self.pgid):
            if time.monotonic() > deadline:
                self._signal_group(signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(_POLL_SECONDS)
        self._log.close()


def wait_until_ready(
    process: ManagedProcess,
    host: str,
    port: int,
    probe: Callable[[], str | None],
    timeout: float,
) -> None:
    """Wait until ``port`` accepts connections and ``probe`` (a real protocol call) succeeds.

    ``probe`` returns None when the server answered correctly, else what went wrong.
    """
    deadline = time.monotonic() + timeout
    problem = f"port {port} does not accept connections"
    while True:
        code = process.popen.poll()
        if code is not None:
            raise ServerStartError(
                f"{process.name} exited with code {code} during start-up; "
                f"log:\n{process.log_tail()}"
            )
        if port_accepts(host, port):
            answer = probe()
            if answer is None:
                return
            problem = answer
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{process.name} on {host}:{port} not ready after {timeout:.0f} s: {problem}; "
                f"log:\n{process.log_tail()}"
            )
        time.sleep(_POLL_SECONDS)
