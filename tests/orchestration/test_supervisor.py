"""The supervisor's children do not outlive it, however it dies."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from streamweave.children import stop_with_parent
from tests.processes import running, wait_for

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's"
)

SUPERVISOR = """
import sys, time
from pathlib import Path
from streamweave.orchestration.supervisor import Supervisor

supervisor = Supervisor(Path(sys.argv[1]))
child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], {})
Path(sys.argv[2]).write_text(str(child.process.pid))
time.sleep(120)
"""


def test_a_child_is_stopped_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    said = tmp_path / "child.pid"
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path / "logs"), str(said)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    child = 0
    try:
        assert wait_for(lambda: said.exists() and said.read_text(), 30), "nothing started"
        child = int(said.read_text())
        assert running(child)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(10)
        assert wait_for(lambda: not running(child), 10), "the child outlived its supervisor"
    finally:
        supervisor.kill()
        supervisor.wait()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def test_children_started_off_the_main_thread_are_not_tethered() -> None:
    """The kernel would signal them when that thread ends, not when the process does."""
    made: list[object] = []
    thread = threading.Thread(target=lambda: made.append(stop_with_parent()))
    thread.start()
    thread.join()
    assert made == [None]
    assert stop_with_parent() is not None
