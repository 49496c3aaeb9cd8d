"""The file_filter built-in (pre-transfer): include, exclude, minimum size, redirect.

Per file, in this order: if include patterns are set the file must match one; it must
match no exclude pattern; it must be at least ``min_size_bytes``; then the first
redirect rule whose pattern matches puts the file under that rule's folder, keeping
its path (``logs/`` + ``run1/a.log``). Patterns follow ``hooks.globs``; redirected
paths must stay inside the storage root (``hooks.paths``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streamweave.hooks.effects import Effect, HookError, Results
from streamweave.hooks.globs import GlobSet, relative
from streamweave.hooks.model import FileFacts, HookSpec
from streamweave.hooks.paths import UnsafeDestination, under


def _quoted(patterns: Sequence[str]) -> str:
    return ", ".join(repr(p) for p in patterns)


class FileFilter:
    def __init__(self, spec: HookSpec, label: str) -> None:
        self.spec = spec
        self.label = label
        config: Mapping[str, Any] = spec.config
        self.include = GlobSet(config.get("include_patterns") or [])
        self.exclude = GlobSet(config.get("exclude_patterns") or [])
        self.min_size: int = config.get("min_size_bytes") or 0
        rules = config.get("redirect_rules") or []
        self.redirect = GlobSet([rule["pattern"] for rule in rules])
        self.destinations: list[str] = [rule["destination"] for rule in rules]
        self._no_include = f"matches no include pattern ({_quoted(self.include.patterns)})"

    async def run(self, files: Sequence[FileFacts]) -> Results:
        return [self.decide(facts) for facts in files]

    def decide(self, facts: FileFacts) -> Effect | HookError | None:
        path = relative(facts.source_path)
        if self.include and self.include.first(path) is None:
            return Effect(skip_reason=self._no_include)
        excluded = self.exclude.first(path)
        if excluded is not None:
            return Effect(skip_reason=f"exclude pattern {self.exclude.patterns[excluded]!r}")
        if facts.size < self.min_size:
            return Effect(
                skip_reason=f"smaller than min_size_bytes {self.min_size} ({facts.size} bytes)"
            )
        rule = self.redirect.first(path)
        if rule is None:
            return None
        folder = self.destinations[rule]
        try:
            return Effect(destination_path=under(folder, facts.destination_path))
        except UnsafeDestination as exc:
            return HookError(
                f"redirect rule {rule + 1} ({self.redirect.patterns[rule]!r} -> {folder!r}) "
                f"refused: {exc}; fix the rule's destination"
            )
