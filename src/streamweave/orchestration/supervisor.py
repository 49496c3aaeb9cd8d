"""The one-command stack's supervisor: child processes started in order, watched, and
stopped in the reverse order (the worker first, so that running harvests can still
report to the API's database and to Prefect while they finish their batch).

Each child runs in a session of its own: a Ctrl+C in the terminal reaches only the
supervisor, which decides what each child is told and when. On Linux each child is also
told to stop (SIGTERM) when the supervisor dies without stopping it (killed, out of
memory): otherwise the API, the worker and the Prefect server outlive it and hold their
ports, and the next ``streamweave up`` cannot start. The kernel signals when the thread
that started a child ends: ``up`` starts them all from its main thread, the only one
where ``install_handlers`` works.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from streamweave.children import stop_with_parent
from streamweave.errors import StreamWeaveError

STOP_SECONDS = 20.0


class ChildFailed(StreamWeaveError):
    """A process of the stack stopped by itself."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait()


@dataclass
class Supervisor:
    logs: Path
    say: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    signals: int = 0

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(  # noqa: S603 - our interpreter, no secrets in argv
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=stop_with_parent(),
            )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1

    def install_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        """Wait for ``ready`` while every child keeps running."""
        deadline = time.monotonic() + timeout
        while not ready():
            self.check()
            if self.signals:
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise ChildFailed(f"{what} was not ready after {timeout:.0f} s; see {self.logs}")
            time.sleep(0.2)

    def check(self) -> None:
        for child in self.children:
            if not child.running:
                raise ChildFailed(
                    f"{child.name} stopped (exit {child.process.returncode}); see {child.log}"
                )

    def run_until_signal(self, tick: Callable[[], None] | None = None) -> None:
        while not self.signals:
            self.check()
            if tick is not None:
                tick()
            time.sleep(0.2)

    def shutdown(self, first: str) -> None:
        """Stop ``first`` (the worker) gracefully, then the rest in reverse order. A
        further signal while the worker finishes its batch tells it to abort; one more
        kills it."""
        seen = self.signals
        ordered = [c for c in self.children if c.name == first] + [
            c for c in reversed(self.children) if c.name != first
        ]
        for child in ordered:
            if not child.running:
                continue
            if child.name != first:
                child.stop()
                continue
            self.say(f"stopping {child.name}: running harvests finish their current batch")
            child.signal(signal.SIGTERM)
            aborted_at: int | None = None
            while child.running:
                if aborted_at is None and self.signals > seen:
                    aborted_at = self.signals
                    self.say(f"aborting {child.name}: harvests stop now and clean up")
                    child.signal(signal.SIGTERM)
                elif aborted_at is not None and self.signals > aborted_at:
                    self.say(f"killing {child.name}")
                    child.signal(signal.SIGKILL)
                time.sleep(0.2)
        self.children.clear()
