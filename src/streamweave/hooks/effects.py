"""What one hook does to one file, before the chain applies it, and how it fails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from streamweave.hooks.model import FileFacts, GrantRequest, HookSpec


class HookError(Exception):
    """One hook failed on one file. The message is shown to admins as is: it says what
    went wrong and never carries a secret."""


@dataclass(frozen=True)
class Effect:
    """A hook's answer for one file; the chain applies it as a whole or not at all.

    ``skip_reason`` is the rule, without the hook's name (the chain adds it);
    ``destination_path`` is the file's new path relative to the storage root.
    """

    skip_reason: str | None = None
    destination_path: str | None = None
    metadata: Mapping[str, Any] | None = None
    grants: Sequence[GrantRequest] = ()


# One entry per file, in the order given: an effect, nothing to do, or the failure.
Results = list[Effect | HookError | None]


class Runner(Protocol):
    """A hook compiled for a chain: built once, then run over batches of files."""

    spec: HookSpec
    label: str  # how skip rules name the hook, e.g. "File filter 'raw only' (file_filter)"

    async def run(self, files: Sequence[FileFacts]) -> Results: ...


class BrokenRunner:
    """A hook that cannot run as configured (unknown built-in, plugin not installed,
    invalid stored config). It fails every file, so the problem is visible on each and
    fail_closed still protects the files."""

    def __init__(self, spec: HookSpec, label: str, problem: str) -> None:
        self.spec = spec
        self.label = label
        self.problem = problem

    async def run(self, files: Sequence[FileFacts]) -> Results:
        error = HookError(self.problem)
        return [error] * len(files)
