"""The supervisor's children do not outlive it, however it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import running

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's"
)

SUPERVISOR = """
import sys, time
from pathlib import Path
from streamweave.orchestration.supervisor import Supervisor

supervisor = Supervisor(Path(sys.argv[1]))
child = supervisor.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], {})
print(child.process.pid, flush=True)
time.sleep(120)
"""


def test_a_child_is_stopped_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(tmp_path / "logs")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    child = 0
    try:
        assert supervisor.stdout is not None
        child = int(supervisor.stdout.readline())
        assert running(child)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(10)
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child), "the child outlived its supervisor"
    finally:
        supervisor.kill()
        supervisor.wait()
        if child and running(child):
            os.kill(child, signal.SIGKILL)
