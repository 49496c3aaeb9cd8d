"""Walking a local directory tree: every directory and regular file below a root, with
its lstat, StreamWeave's temporary copies left out, symlinks never followed.

Standard library only, on purpose: a harvest runs this file as a script in a process
of its own (``python -I -S tree.py ROOT``, which starts in milliseconds and imports
nothing else), so that listing a large instrument uses other cores while the harvest
reads the database, instead of sharing one interpreter lock with it. As a script it
shares the tree out among forked copies of itself, one per core (a stat per file is
the cost, and each process pays for its own), and writes the sorted index, or the
error that stopped it, with ``marshal``.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys
from collections.abc import Iterable, Iterator

TEMP_MARK = ".swpart-"
# Directories a tree is cut into per process sharing it: enough that one large
# directory does not leave the others idle for long.
SHARES_PER_PROCESS = 8

Row = tuple[str, int, int]  # path, size, mtime in microseconds


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and TEMP_MARK in name


def _entries(root: str, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of the directories and regular files in one directory."""
    with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:
        for entry in entries:
            if is_temp_name(entry.name):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                yield (f"{prefix}/{entry.name}" if prefix else entry.name), info


def _require_directory(root: str) -> None:
    if not os.path.isdir(root):
        raise NotADirectoryError(20, "does not exist or is not a directory", root)


def walk(root: str, below: Iterable[str] = ("",)) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every directory and regular file below ``root``, or
    only below its directories ``below``. ``root`` must be a directory
    (NotADirectoryError otherwise)."""
    _require_directory(root)
    stack = list(below)
    while stack:
        for relative, info in _entries(root, stack.pop()):
            if stat.S_ISDIR(info.st_mode):
                stack.append(relative)
            yield relative, info


def _rows(found: Iterable[tuple[str, os.stat_result]]) -> list[Row]:
    return [
        (relative, info.st_size, info.st_mtime_ns // 1000)
        for relative, info in found
        if not stat.S_ISDIR(info.st_mode)
    ]


def file_index(root: str) -> list[Row]:
    """Every file below ``root`` as (path, size, mtime in microseconds), sorted."""
    found = _rows(walk(root))
    found.sort()
    return found


def _cut(root: str, wanted: int) -> tuple[list[Row], list[str]]:
    """The tree opened breadth first until ``wanted`` directories are left to walk (or
    none): the files seen on the way, and those directories."""
    _require_directory(root)
    files: list[Row] = []
    level = [""]
    while level and len(level) < wanted:
        deeper: list[str] = []
        for prefix in level:
            found = list(_entries(root, prefix))
            deeper += [relative for relative, info in found if stat.S_ISDIR(info.st_mode)]
            files += _rows(found)
        level = deeper
    return files, level


def _report(index: list[Row] | None, error: OSError | None) -> bytes:
    if error is not None:
        return marshal.dumps(
            ("error", error.errno or 0, error.strerror or str(error), error.filename)
        )
    return marshal.dumps(("index", index))


def _read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read()


def shared_index(root: str, processes: int) -> bytes:
    """The script's output for ``root``, the walk shared among ``processes`` processes
    (this one and forks of it): ("index", [(path, size, mtime_us), ...]) sorted, or
    ("error", errno, message, path) for the error that stopped the walk."""
    try:
        found, directories = _cut(root, processes * SHARES_PER_PROCESS)
    except OSError as exc:
        return _report(None, exc)
    children = []
    for share in range(1, min(processes, len(directories))):
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its share, written whole, then gone at once
            os.close(reader)
            try:
                rows = _rows(walk(root, directories[share::processes]))
                output = _report(rows, None)
            except OSError as exc:
                output = _report(None, exc)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(output)
            os._exit(0)  # nothing of the parent's to flush or tear down in a fork
        os.close(writer)
        children.append((pid, reader))
    error: OSError | None = None
    try:
        found += _rows(walk(root, directories[::processes]))
    except OSError as exc:
        error = exc
    for pid, reader in children:
        report = marshal.loads(_read_all(reader))  # noqa: S302 - our own fork's output
        os.waitpid(pid, 0)
        if report[0] == "error":
            error = error or OSError(report[1], report[2], report[3])
        else:
            found += report[1]
    if error is not None:
        return _report(None, error)
    found.sort()
    return _report(found, None)


if __name__ == "__main__":
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    sys.stdout.buffer.write(shared_index(sys.argv[1], max(1, min(cores, 4))))
