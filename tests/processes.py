"""Helpers for tests that watch other processes."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamweave.simlab.processes import process_table


def running(pid: int) -> bool:
    """Whether ``pid`` exists and has not ended: a zombie (ended, not yet reaped by
    whoever adopted it) counts as ended."""
    return any(found == pid and state != "Z" for found, state, _, _ in process_table())


def wait_for(done: Callable[[], object], seconds: float) -> bool:
    """Whether ``done`` became true within ``seconds`` (asked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
