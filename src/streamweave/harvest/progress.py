"""What a harvest tells whoever runs it (CLI progress bar, Prefect, the UI) as it goes,
and the summary it ends with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol


class Reporter(Protocol):
    def stage(self, name: str) -> None:
        """Entering a stage: listing, planning, transferring, finishing."""

    def planned(self, files: int, nbytes: int) -> None:
        """More to transfer: the plan arrives a page at a time, the totals add up."""

    def progress(self, files_done: int, files_failed: int, nbytes: int) -> None:
        """Running totals of this run's transfers."""


class SilentReporter:
    def stage(self, name: str) -> None:
        return None

    def planned(self, files: int, nbytes: int) -> None:
        return None

    def progress(self, files_done: int, files_failed: int, nbytes: int) -> None:
        return None


@dataclass
class HarvestSummary:
    run_id: uuid.UUID | None
    instrument: str
    storage: str
    status: str = "running"
    listed: int = 0
    new: int = 0
    unchanged: int = 0
    waiting: int = 0
    retry_later: int = 0
    skipped: int = 0
    completed: int = 0
    failed: int = 0
    permanently_failed: int = 0
    vanished: int = 0
    cleaned: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Files per second over the whole run."""
        return self.completed / self.seconds if self.seconds else 0.0

    @property
    def exit_code(self) -> int:
        """0 when everything eligible was verified, 1 when some files failed."""
        return 1 if self.failed or self.status == "failed" else 0
