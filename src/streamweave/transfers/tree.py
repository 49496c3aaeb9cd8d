"""Walking a local directory tree: every directory and regular file below a root, with
its lstat, StreamWeave's temporary copies left out, symlinks never followed.

Standard library only, on purpose: a harvest runs this file as a script in a process
of its own (``python -I -S tree.py ROOT``, which starts in milliseconds and imports
nothing else), so that listing a large instrument uses another core while the
harvest reads the database, instead of sharing one interpreter lock with it. The
script writes the sorted index, or the error that stopped it, with ``marshal``.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Iterator

TEMP_MARK = ".swpart-"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


def walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every directory and regular file below ``root``.
    ``root`` must be a directory (NotADirectoryError otherwise)."""
    if not os.path.isdir(root):
        raise NotADirectoryError(20, "does not exist or is not a directory", root)
    stack = [""]
    while stack:
        prefix = stack.pop()
        with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:
            for entry in entries:
                if is_temp_name(entry.name):
                    continue
                relative = f"{prefix}/{entry.name}" if prefix else entry.name
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    stack.append(relative)
                    yield relative, info
                elif stat.S_ISREG(info.st_mode):
                    yield relative, info


def file_index(root: str) -> list[tuple[str, int, int]]:
    """Every file below ``root`` as (path, size, mtime in microseconds), sorted."""
    found = [
        (relative, info.st_size, info.st_mtime_ns // 1000)
        for relative, info in walk(root)
        if not stat.S_ISDIR(info.st_mode)
    ]
    found.sort()
    return found


def report(root: str) -> bytes:
    """The script's output for ``root``: ("index", [(path, size, mtime_us), ...]), or
    ("error", errno, message, path) for the error that stopped the walk."""
    try:
        return marshal.dumps(("index", file_index(root)))
    except OSError as exc:
        return marshal.dumps(("error", exc.errno or 0, exc.strerror or str(exc), exc.filename))


if __name__ == "__main__":
    sys.stdout.buffer.write(report(sys.argv[1]))
