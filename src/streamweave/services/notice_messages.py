"""What admins read about harvests: one event per notable harvest (a failure, or a
recovery), and the words of its in-app notice and of the e-mail (one event, or a digest
of several) built from it. Pure: no database, no SMTP."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

FAILURE: Final = "failure"
RECOVERY: Final = "recovery"


@dataclass(frozen=True)
class FlaggedFile:
    """A file that reached its retry limit: it is not copied again until it changes."""

    path: str
    error: str


@dataclass(frozen=True)
class HarvestEvent:
    kind: Literal["failure", "recovery"]
    at: datetime
    instrument: str
    storage: str
    run_id: uuid.UUID | None
    status: str
    link: str
    # Why the harvest failed (the run's own error first, then some of its files').
    errors: tuple[str, ...] = ()
    # Files that reached the retry limit in this run: how many, and the first ones.
    flagged: int = 0
    flagged_files: tuple[FlaggedFile, ...] = field(default=())
    # A recovery: files flagged earlier that still wait for a change at the source.
    still_flagged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "instrument": self.instrument,
            "storage": self.storage,
            "run_id": str(self.run_id) if self.run_id else None,
            "status": self.status,
            "link": self.link,
            "errors": list(self.errors),
            "flagged": self.flagged,
            "flagged_files": [[f.path, f.error] for f in self.flagged_files],
            "still_flagged": self.still_flagged,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HarvestEvent:
        return cls(
            kind=data["kind"],
            at=datetime.fromisoformat(data["at"]),
            instrument=data["instrument"],
            storage=data["storage"],
            run_id=uuid.UUID(data["run_id"]) if data.get("run_id") else None,
            status=data["status"],
            link=data["link"],
            errors=tuple(data.get("errors", ())),
            flagged=int(data.get("flagged", 0)),
            flagged_files=tuple(FlaggedFile(p, e) for p, e in data.get("flagged_files", ())),
            still_flagged=int(data.get("still_flagged", 0)),
        )


def _into(event: HarvestEvent) -> str:
    return f" into {event.storage}" if event.storage else ""


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def title(event: HarvestEvent) -> str:
    """One line: the in-app notice's title, and a digest's line per event."""
    if event.kind == RECOVERY:
        return f"Harvest of {event.instrument}{_into(event)} succeeded again"
    if event.status == "failed":
        return f"Harvest of {event.instrument}{_into(event)} failed"
    return f"{_files(event.flagged)} of {event.instrument} reached the retry limit"


def details(event: HarvestEvent) -> str:
    """What happened and what to do, without the title."""
    lines: list[str] = []
    if event.kind == RECOVERY:
        lines.append(f"The harvest at {_when(event.at)} completed without errors.")
        if event.still_flagged:
            lines.append(
                f"Still at the retry limit: {_files(event.still_flagged)}, harvested again "
                "once they change at the source."
            )
        return "\n".join(lines)
    if event.status == "failed":
        lines.append(f"The harvest at {_when(event.at)} stopped: {event.errors[0]}")
        if len(event.errors) > 1:
            lines.append("Files that failed:")
            lines += [f"  {error}" for error in event.errors[1:]]
    if event.flagged:
        lines.append(
            f"{_files(event.flagged)} failed as many times as the retry limit allows and "
            "will not be tried again until they change at the source:"
        )
        lines += [f"  {f.path}: {f.error}" for f in event.flagged_files]
        if event.flagged > len(event.flagged_files):
            lines.append(f"  ... and {event.flagged - len(event.flagged_files)} more")
    return "\n".join(lines)


def _failures(count: int) -> str:
    return "1 harvest failure" if count == 1 else f"{count} harvest failures"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def mail(events: Sequence[HarvestEvent], window_minutes: int) -> tuple[str, str]:
    """Subject and body of one e-mail about one instrument: a single event, or a digest
    of the events held back since its last e-mail (oldest first)."""
    last = events[-1]
    failures = [e for e in events if e.kind == FAILURE]
    if len(events) == 1:
        subject = f"[StreamWeave] {title(last)}"
    elif last.kind == RECOVERY:
        after = f" after {_failures(len(failures))}" if failures else ""
        subject = f"[StreamWeave] Harvest of {last.instrument} succeeded again{after}"
    else:
        subject = f"[StreamWeave] {last.instrument}: {_failures(len(failures))}"
    parts = []
    for event in events:
        parts.append(f"{title(event)}\n{details(event)}\nDetails: {event.link}")
    body = "\n\n".join(parts)
    if window_minutes:
        body += (
            f"\n\nFurther failures of {last.instrument} within {window_minutes} minutes of "
            "this message are collected into one e-mail; each one is also in the "
            "notifications of StreamWeave at once."
        )
    return subject, body
