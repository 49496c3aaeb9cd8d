"""Glob patterns over paths relative to the instrument root, compiled once per chain.

The rules, as admins write them in a file filter:

- A path is matched relative to the instrument root, '/'-separated, without a leading
  '/': the file ``<root>/run 1/img.tif`` is ``run 1/img.tif``.
- A pattern without '/' matches the file name at any depth: ``*.tmp`` matches
  ``a.tmp`` and ``run/a.tmp``.
- A pattern with '/' matches the whole path from the root: ``run*/*.tif`` matches
  ``run1/a.tif`` but not ``x/run1/a.tif``. A leading '/' changes nothing but makes
  that explicit (``/notes.txt`` is only the root's ``notes.txt``). A trailing '/'
  means everything under that folder (``tmp/`` is ``tmp/**``).
- ``*`` matches any characters except '/', ``?`` one character except '/',
  ``[abc]``, ``[a-z]`` and ``[!abc]`` one character of (or not of) a set, never '/'.
- ``**`` crosses folders: ``**/`` is zero or more folders (``**/cache/*``,
  ``raw/**/*.d``), and ``**`` elsewhere is any characters including '/'.
- Matching is case-sensitive and compares Unicode in NFC, so a name written in NFD by
  macOS matches a pattern typed in NFC.

All patterns of a list become one regular expression (one alternation), so a file
costs one regex match per list however many patterns it has.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


class GlobError(ValueError):
    """A pattern that cannot be compiled."""


def relative(path: str) -> str:
    """The form patterns are matched against: no leading '/', Unicode NFC."""
    path = path.lstrip("/")
    return path if path.isascii() else unicodedata.normalize("NFC", path)


def _class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    escaped = "".join(c if c == "-" else re.escape(c) for c in body)
    # A set never matches the separator: '*' and '?' do not cross folders, nor does '[...]'.
    return f"[^/{escaped}]" if negate else f"(?!/)[{escaped}]"


def translate(pattern: str) -> str:
    """The regular expression (for ``fullmatch``) that one glob pattern stands for."""
    pattern = unicodedata.normalize("NFC", pattern)
    if pattern.endswith("/"):
        pattern += "**"
    if "/" not in pattern:
        pattern = "**/" + pattern
    pattern = pattern.lstrip("/")
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                out.append("[^/]*")
            elif (i == 0 or pattern[i - 1] == "/") and j < n and pattern[j] == "/":
                out.append("(?:.*/)?")
                j += 1
            else:
                out.append(".*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:  # no closing bracket: a literal '['
                out.append(re.escape(c))
                i += 1
            else:
                out.append(_class(pattern[i + 1 : j]))
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class GlobSet:
    """An ordered list of patterns matched as one regex; ``first`` says which matched."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = list(patterns)
        for pattern in self.patterns:
            try:
                re.compile(translate(pattern))
            except re.error as exc:
                raise GlobError(f"glob pattern {pattern!r} is invalid ({exc})") from None
        alternatives = "|".join(
            f"(?P<g{index}>{translate(pattern)})" for index, pattern in enumerate(self.patterns)
        )
        # DOTALL: a file name may contain a newline, and '*' must match it too.
        self._regex = re.compile(alternatives, re.DOTALL) if self.patterns else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def first(self, path: str) -> int | None:
        """The index of the first pattern matching ``path`` (already ``relative``)."""
        if self._regex is None:
            return None
        match = self._regex.fullmatch(path)
        if match is None or match.lastgroup is None:
            return None
        return int(match.lastgroup[1:])
