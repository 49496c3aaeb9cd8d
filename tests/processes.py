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


def session_members(session: int) -> dict[int, str]:
    """The processes still running in ``session`` (a process id that started a session
    of its own), with their command lines."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        # After the command: state, parent, process group, session.
        if fields[0] != "Z" and int(fields[3]) == session:
            members[int(entry.name)] = command
    return members
