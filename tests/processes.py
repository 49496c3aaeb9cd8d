"""Helpers for tests that watch other processes."""

from __future__ import annotations

import os
from pathlib import Path


def running(pid: int) -> bool:
    """Whether ``pid`` exists and has not ended: a zombie (ended, not yet reaped by
    whoever adopted it) counts as ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return not stat.read_text().split(") ")[-1].startswith("Z")
    except FileNotFoundError:
        return False
