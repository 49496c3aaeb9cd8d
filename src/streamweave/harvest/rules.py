"""Completion rules: when a file on an instrument is finished and may be copied.

- ``none``: as soon as it is listed.
- ``quiet_period``: when its size and mtime have not changed for ``seconds`` across
  observations. A file is first observed by one run and can only be eligible in a
  later one, so a file seen growing is never copied half-written.
- ``marker``: files are eligible once a marker file (``RTAComplete.txt``,
  ``.metadata_rsync_exitcode``...) exists in their directory or in a directory above
  it. The marker itself is copied last, once everything else below its directory is
  done, so whoever watches the destination for the marker sees a complete run.
"""

from __future__ import annotations

import posixpath
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamweave.errors import ConfigurationError

MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class CompletionRule:
    mode: str = "none"
    seconds: int = 0
    marker: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CompletionRule:
        config = config or {}
        mode = str(config.get("mode", "none"))
        if mode == "none":
            return cls()
        if mode == "quiet_period":
            seconds = config.get("seconds")
            if not isinstance(seconds, int) or seconds < 0:
                raise ConfigurationError(
                    "completion rule quiet_period needs 'seconds', a whole number >= 0"
                )
            return cls(mode, seconds=seconds)
        if mode == "marker":
            marker = str(config.get("marker") or "")
            if not marker or "/" in marker or "\\" in marker:
                raise ConfigurationError(
                    "completion rule marker needs 'marker', a file name such as RTAComplete.txt"
                )
            return cls(mode, marker=marker)
        raise ConfigurationError(
            f"unknown completion rule mode {mode!r}; use none, quiet_period or marker"
        )

    def describe(self) -> str:
        if self.mode == "quiet_period":
            return f"unchanged for {self.seconds} s across harvests"
        if self.mode == "marker":
            return f"marker file {self.marker!r} in its directory or above"
        return "none"


class Completion:
    """The rule applied to one listing."""

    def __init__(self, rule: CompletionRule, paths: Iterable[str], now_us: int) -> None:
        self.rule = rule
        self.now_us = now_us
        self.marked: frozenset[str] = frozenset()
        if rule.mode == "marker":
            self.marked = frozenset(
                posixpath.dirname(path) for path in paths if posixpath.basename(path) == rule.marker
            )

    def is_marker(self, path: str) -> bool:
        return self.rule.mode == "marker" and posixpath.basename(path) == self.rule.marker

    def marker_scope(self, path: str) -> str | None:
        """The directory of the nearest marker at or above ``path``, if any."""
        directory = posixpath.dirname(path)
        while True:
            if directory in self.marked:
                return directory
            if not directory:
                return None
            directory = posixpath.dirname(directory)

    def complete(self, path: str, stable_since_us: int, first_seen_now: bool) -> bool:
        if self.rule.mode == "quiet_period":
            quiet = self.now_us - stable_since_us >= self.rule.seconds * MICROSECONDS
            return quiet and (not first_seen_now or self.rule.seconds == 0)
        if self.rule.mode == "marker":
            return self.marker_scope(path) is not None
        return True


def waits_for_others(marker_path: str, unfinished: Sequence[str]) -> bool:
    """Whether a file other than the marker itself, below the marker's directory, is in
    ``unfinished`` (sorted paths): then the marker is not harvested yet."""
    directory = posixpath.dirname(marker_path)
    prefix = f"{directory}/" if directory else ""
    index = bisect_left(unfinished, prefix)
    while index < len(unfinished) and unfinished[index].startswith(prefix):
        if unfinished[index] != marker_path:
            return True
        index += 1
    return False
