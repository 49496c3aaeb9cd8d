"""Child processes that do not outlive the process that started them.

A server or worker started in a session of its own (so that a Ctrl+C in the terminal
reaches only whoever started it) is out of reach of the terminal and of its parent's
process group: when that parent is killed (SIGKILL, the OOM killer, a crash), nothing
else stops the child, and it keeps its ports. Linux can send it a signal instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def stop_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child asks the kernel for SIGTERM
    when this process's main thread ends, and exits at once if that has happened
    already. None where this cannot be had: not Linux, or not the main thread (the
    kernel signals when the *thread* that started the child ends, which for another
    thread may be long before this process does)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    # Looked up before the fork, so that the child does as little as it can before exec.
    prctl = ctypes.CDLL(None).prctl

    def tether() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return tether
