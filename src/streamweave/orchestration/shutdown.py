"""How a worker asks its flow runs to stop: after the batch in hand, or at once.

A worker hands its flow-run processes a control directory through the environment;
it creates ``stop`` there on the first shutdown signal and ``abort`` on the second.
Files rather than signals: a flow run's process belongs to Prefect's engine, whose
own signal handling would end the run mid-batch, and a file is seen whichever thread
looks.
"""

from __future__ import annotations

import os
from pathlib import Path

from streamweave.errors import StreamWeaveError

CONTROL_ENV = "STREAMWEAVE_WORKER_CONTROL"


class HarvestStopped(StreamWeaveError):
    """The worker is shutting down: the harvest stopped between two batches."""


class HarvestAborted(StreamWeaveError):
    """The worker was told to stop at once: the harvest was cancelled where it was."""


class Control:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    @classmethod
    def from_env(cls) -> Control:
        value = os.environ.get(CONTROL_ENV)
        return cls(Path(value) if value else None)

    def _flag(self, name: str) -> bool:
        return self.directory is not None and (self.directory / name).exists()

    @property
    def stop_requested(self) -> bool:
        return self._flag("stop") or self._flag("abort")

    @property
    def abort_requested(self) -> bool:
        return self._flag("abort")

    def stop_between_batches(self) -> None:
        """The pipeline's ``before_batch``: raises once the worker asked its runs to stop."""
        if self.stop_requested:
            raise HarvestStopped(
                "the worker is shutting down: stopped between two batches; the next run "
                "carries on from here"
            )

    def request_stop(self) -> None:
        self._touch("stop")

    def request_abort(self) -> None:
        self._touch("abort")

    def _touch(self, name: str) -> None:
        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / name).touch()
