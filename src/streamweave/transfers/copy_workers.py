"""Worker processes for local copies: started once per process, kept, one per core.

Each worker is ``python -P -m streamweave.transfers.copy_workers``, a fresh interpreter
that imports the copy code and nothing else: ready in about 0.1 s. (A multiprocessing
pool's workers import the program that started them, all of StreamWeave for the
``streamweave`` command: 0.8 s before the first copy of every harvest.)

A request is one chunk of ``local.copy_files`` work; the worker answers with progress
frames as files become final, then the chunk's results. Frames are length-prefixed
pickles on the worker's stdin and stdout, between two processes of the same program.

A worker ends when its stdin closes, which happens when the process that started it
ends, however it ends; a watch thread also stops it within a second of its parent's
death while it is busy, so a killed harvest's workers do not go on giving copies
their final names.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from streamweave.transfers import local
from streamweave.transfers.base import Location
from streamweave.transfers.errors import TransferError

PARENT_POLL_SECONDS = 1.0
_LENGTH = struct.Struct("<Q")

# (source, destination, jobs, algorithm): the arguments of ``local.copy_files``.
Request = tuple[Location, Location, Sequence[local.Job], str]
# Files made final, failed, and their bytes, since the previous progress frame.
Counts = tuple[int, int, int]


class WorkerLost(TransferError):
    """A copy worker process ended in the middle of a chunk (killed, or out of memory)."""


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or None when the other end has closed."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # noqa: S301 - frames from our own parent process


def counts(copies: Sequence[local.Copied]) -> Counts:
    failed = sum(1 for copied in copies if copied.error is not None)
    return len(copies) - failed, failed, sum(copied.bytes for copied in copies)


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker's loop: a chunk at a time, until ``requests`` closes."""
    _exit_when_orphaned(os.getppid())
    while (request := _receive(requests)) is not None:
        source, destination, jobs, algorithm = request

        def progress(copies: list[local.Copied]) -> None:
            _send(replies, ("progress", counts(copies)))

        outcome: list[local.Copied] | TransferError
        try:
            outcome = local.copy_files(source, destination, jobs, algorithm, progress)
        except TransferError as exc:  # the whole chunk (no such destination, say)
            outcome = exc
        _send(replies, ("done", outcome))


def _exit_when_orphaned(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Worker:
    def __init__(self) -> None:
        # -P: nothing from the current directory shadows StreamWeave's modules.
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-P", "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def copy(
        self, request: Request, progress: Callable[[Counts], None]
    ) -> list[local.Copied] | TransferError:
        """The chunk's results, or the error that stopped the whole chunk."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            _send(stdin, request)
        except OSError:
            raise self._lost() from None
        while (reply := _receive(stdout)) is not None:
            kind, value = reply
            if kind == "progress":
                progress(value)
            else:
                outcome: list[local.Copied] | TransferError = value
                return outcome
        raise self._lost()

    def _lost(self) -> WorkerLost:
        code = self.process.wait()
        return WorkerLost(
            f"the copy worker process {self.pid} ended (exit code {code}) before finishing "
            "its files; they are retried by the next run"
        )

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WorkerPool:
    """Up to ``size`` workers, started on demand and shared by whoever copies (any
    thread, any event loop): ``copy`` blocks, so call it from a thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers not yet running, without waiting for them."""
        with self._lock:
            while len(self._all) < self.size:
                self._idle.put(self._add())

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._all]

    def _add(self) -> _Worker:
        worker = _Worker()
        self._all.append(worker)
        return worker

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle.empty() and len(self._all) < self.size:
                return self._add()
        return self._idle.get()

    def copy(self, request: Request, progress: Callable[[Counts], None]) -> list[local.Copied]:
        """One chunk, copied by an idle worker. A worker that dies on the way is
        replaced, and every file of its chunk is reported failed (WorkerLost)."""
        worker = self._take()
        try:
            outcome = worker.copy(request, progress)
        except BaseException as exc:
            # Lost, or interrupted half-way through its replies: not reusable either way.
            with self._lock:
                self._all.remove(worker)
            worker.close()
            if isinstance(exc, WorkerLost):
                now = time.time()
                return [local.Copied(0, None, None, exc, now, now)] * len(request[2])
            raise
        self._idle.put(worker)
        if isinstance(outcome, TransferError):
            raise outcome
        return outcome

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()


def main() -> None:
    # Replies get the real stdout to themselves: anything printed goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Ctrl-C reaches the whole process group: the harvest decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
