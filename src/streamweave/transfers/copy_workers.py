"""Worker processes for local copies: started once per process, kept, one per core.

Each worker is ``python -P -m streamweave.transfers.copy_workers``, a fresh interpreter
that imports the copy code and nothing else: ready in about 0.1 s. (A multiprocessing
pool's workers import the program that started them, all of StreamWeave for the
``streamweave`` command: 0.8 s before the first copy of every harvest.)

A request is one chunk of ``local.copy_files`` work, a pickle on the worker's stdin.
The worker answers on a pipe of its own (its stdout stays free for stray output):
the outcome of each file as it becomes final, then "done", or the error that stopped
the whole chunk. Frames are length-prefixed pickles between two processes of the same
program.

A worker ends when its stdin closes, which happens when the process that started it
ends, however it ends; a watch thread also stops it within a second of its parent's
death while it is busy, so a killed harvest's workers do not go on giving copies
their final names. A worker that dies in the middle of a chunk is replaced; the files
it had not reported are failed (``WorkerLost``), to be retried by the next run.
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
# Files made final, failed, and their bytes, in one progress report.
Counts = tuple[int, int, int]
Outcomes = list[tuple[int, local.Copied]]


class WorkerLost(TransferError):
    """A copy worker process ended in the middle of a chunk (killed, or out of memory)."""


class ChunkCancelled(TransferError):
    """The chunk was cancelled (its harvest is stopping) before it was copied whole."""


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or None when the other end has closed."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)  # noqa: S301 - frames between two processes of ours


def counts(outcomes: Outcomes) -> Counts:
    failed = sum(1 for _, copied in outcomes if copied.error is not None)
    return len(outcomes) - failed, failed, sum(copied.bytes for _, copied in outcomes)


def _chunk_error(exc: Exception) -> TransferError:
    """What stopped a whole chunk, as an error that pickles and says what to do."""
    if isinstance(exc, TransferError):
        return exc
    if isinstance(exc, OSError):  # flushing the destination (EIO, ENOSPC...)
        return local.map_os_error(exc, str(exc.filename or "the destination"))
    return TransferError(f"{type(exc).__name__}: {exc}")


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """The worker's loop: a chunk at a time, until ``requests`` closes."""

    def send(message: object) -> None:
        replies.write(_frame(message))
        replies.flush()

    while (request := _receive(requests)) is not None:
        source, destination, jobs, algorithm = request
        try:
            local.copy_files(source, destination, jobs, algorithm, lambda d: send(("copied", d)))
            send(("done", None))
        except Exception as exc:  # the whole chunk (no such destination, say)
            send(("failed", _chunk_error(exc)))


def _exit_when_orphaned(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _Worker:
    def __init__(self) -> None:
        reader, writer = os.pipe()
        try:
            # -P: nothing from the current directory shadows StreamWeave's modules.
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-P", "-m", __name__, str(os.getpid()), str(writer)],
                stdin=subprocess.PIPE,
                pass_fds=(writer,),
            )
        finally:
            os.close(writer)
        self.replies = os.fdopen(reader, "rb")

    @property
    def pid(self) -> int:
        return self.process.pid

    def copy(
        self, request: bytes, size: int, progress: Callable[[Counts], None]
    ) -> list[local.Copied] | TransferError:
        """The chunk's results, or the error that stopped the whole chunk."""
        stdin = self.process.stdin
        assert stdin is not None
        heard: dict[int, local.Copied] = {}
        try:
            stdin.write(request)
            stdin.flush()
        except OSError:
            return self._lost(heard, size)
        while (reply := _receive(self.replies)) is not None:
            kind, value = reply
            if kind == "copied":
                heard.update(value)
                progress(counts(value))
            elif kind == "done":
                return [heard[index] for index in range(size)]
            else:
                failed: TransferError = value
                return failed
        return self._lost(heard, size)

    def _lost(self, heard: dict[int, local.Copied], size: int) -> list[local.Copied]:
        """The files the worker reported, as they went; the others failed."""
        code = self.process.wait()
        lost = WorkerLost(
            f"the copy worker process {self.pid} ended (exit code {code}) before copying "
            "this file; it is retried by the next run"
        )
        now = time.time()
        missing = local.Copied(0, None, None, lost, now, now)
        return [heard.get(index, missing) for index in range(size)]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.replies.close()


class Ticket:
    """One chunk's claim on a worker: ``cancel``, from any thread, stops the chunk at
    once (its worker is killed: copies not yet final stay temporary, for the sweep)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self.cancelled = False

    def _hold(self, worker: _Worker) -> bool:
        with self._lock:
            if not self.cancelled:
                self._worker = worker
            return not self.cancelled

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._worker is not None:
                self._worker.kill()


class WorkerPool:
    """``size`` workers, started on demand and shared by whoever copies (any thread,
    any event loop): ``copy`` blocks, so call it from a thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Start the workers not yet running, without waiting for them."""
        with self._lock:
            while len(self._all) < self.size and not self._closed:
                self._idle.put(self._add())

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.pid for worker in self._all]

    def _add(self) -> _Worker:
        worker = _Worker()
        self._all.append(worker)
        return worker

    def _take(self) -> _Worker:
        while True:
            with self._lock:
                if self._closed:
                    raise TransferError("the copy workers are shut down (the program is exiting)")
                if self._idle.empty() and len(self._all) < self.size:
                    return self._add()
            worker = self._idle.get()
            if worker.alive:
                return worker
            self._replace(worker)  # died while idle: its replacement is queued

    def _replace(self, worker: _Worker) -> None:
        """Put a fresh worker in the place of one that cannot go on: whoever waits for
        a worker is not left waiting for one that will never come back."""
        with self._lock:
            self._all.remove(worker)
            if not self._closed:
                self._idle.put(self._add())
        worker.close()

    def copy(
        self,
        request: Request,
        progress: Callable[[Counts], None],
        ticket: Ticket | None = None,
    ) -> list[local.Copied]:
        """One chunk, copied by an idle worker. A worker that dies on the way is
        replaced, and the files it had not reported fail with WorkerLost."""
        data = _frame(request)  # before taking a worker: a request that fails to pickle
        ticket = ticket or Ticket()
        worker = self._take()
        if not ticket._hold(worker):
            self._idle.put(worker)
            raise ChunkCancelled("the harvest is stopping: this chunk was not copied")
        try:
            outcome = worker.copy(data, len(request[2]), progress)
        except BaseException:
            self._replace(worker)  # interrupted half-way through its replies
            raise
        if not worker.alive:  # lost (or cancelled): its outcome says which files went
            self._replace(worker)
        else:
            self._idle.put(worker)
        if isinstance(outcome, TransferError):
            raise outcome
        return outcome

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()


def main() -> None:
    parent, replies = int(sys.argv[1]), int(sys.argv[2])
    # The parent may be gone already (killed before this interpreter was up).
    if os.getppid() != parent:
        sys.exit(1)
    _exit_when_orphaned(parent)
    # Signals to the process group are for the harvest: it decides what stops, and
    # this worker's lifetime is bound to it through stdin and the watch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.stdin.buffer, os.fdopen(replies, "wb"))


if __name__ == "__main__":
    main()
