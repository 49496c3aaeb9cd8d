"""A harvest's progress on its flow run: one Prefect progress artifact, rewritten as
batches complete (at most every ``interval`` seconds, never per file)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact

log = logging.getLogger(__name__)


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


class ArtifactReporter:
    """A ``harvest.progress.Reporter`` that keeps the latest totals in memory (the
    pipeline calls it from its hot path) and writes them to the artifact from a
    background task."""

    def __init__(self, key: str, title: str, interval: float = 2.0) -> None:
        self.key = key
        self.title = title
        self.interval = interval
        self.stage_name = "starting"
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.files_failed = 0
        self.bytes_done = 0
        self.started = time.monotonic()
        self._version = 0
        self._written = -1
        self._artifact: uuid.UUID | None = None
        self._task: asyncio.Task[None] | None = None

    def stage(self, name: str) -> None:
        self.stage_name = name
        if name == "transferring":
            self.started = time.monotonic()
        self._version += 1

    def planned(self, files: int, nbytes: int) -> None:
        self.files_total += files
        self.bytes_total += nbytes
        self._version += 1

    def progress(self, files_done: int, files_failed: int, nbytes: int) -> None:
        self.files_done, self.files_failed, self.bytes_done = files_done, files_failed, nbytes
        self._version += 1

    @property
    def percent(self) -> float:
        if self.bytes_total:
            return min(100.0, 100.0 * self.bytes_done / self.bytes_total)
        if self.files_total:
            return min(100.0, 100.0 * (self.files_done + self.files_failed) / self.files_total)
        return 0.0

    @property
    def description(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-6)
        failed = f" ({self.files_failed} failed)" if self.files_failed else ""
        return (
            f"**{self.title}**: {self.stage_name}; "
            f"{self.files_done} of {self.files_total} files{failed}, "
            f"{_size(self.bytes_done)} of {_size(self.bytes_total)}, "
            f"{_size(self.bytes_done / seconds)}/s, {self.files_done / seconds:.0f} files/s"
        )

    async def __aenter__(self) -> ArtifactReporter:
        self._artifact = await acreate_progress_artifact(
            0.0, key=self.key, description=self.description
        )
        self._task = asyncio.create_task(self._keep_writing())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._write_or_warn(force=True)

    async def _keep_writing(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._write_or_warn()

    async def _write_or_warn(self, force: bool = False) -> None:
        """Progress is for watching: a Prefect hiccup must not fail the harvest."""
        try:
            await self._write(force)
        except Exception as exc:
            log.warning("could not update the progress artifact: %s", exc)

    async def _write(self, force: bool = False) -> None:
        if self._artifact is None or (self._written == self._version and not force):
            return
        self._written = self._version
        await aupdate_progress_artifact(self._artifact, self.percent, self.description)
