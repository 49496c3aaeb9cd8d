"""The glob rules of file filters (documented in streamweave.hooks.globs)."""

from __future__ import annotations

import unicodedata

import pytest

from streamweave.hooks.globs import GlobError, GlobSet, relative


def matches(pattern: str, path: str) -> bool:
    return GlobSet([pattern]).first(relative(path)) is not None


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # No '/': the file name, at any depth.
        ("*.tmp", "a.tmp", True),
        ("*.tmp", "run1/deep/a.tmp", True),
        ("*.tmp", "a.tmp.raw", False),
        ("a.tmp", "x/a.tmp", True),
        ("~$*", "run/~$report.docx", True),
        # With '/': the whole path from the instrument root.
        ("run*/*.tif", "run1/a.tif", True),
        ("run*/*.tif", "x/run1/a.tif", False),
        ("run*/*.tif", "run1/sub/a.tif", False),
        ("/notes.txt", "notes.txt", True),
        ("/notes.txt", "sub/notes.txt", False),
        # '*' and '?' do not cross folders; '**' does.
        ("raw/*", "raw/a/b.d", False),
        ("raw/**", "raw/a/b.d", True),
        ("raw/**/*.d", "raw/x.d", True),
        ("raw/**/*.d", "raw/a/b/x.d", True),
        ("**/cache/*", "cache/x", True),
        ("**/cache/*", "a/b/cache/x", True),
        ("**/cache/*", "a/b/cache/x/y", False),
        ("a**z", "a/b/z", True),
        ("r?n/x", "run/x", True),
        ("r?n/x", "r/n/x", False),
        # Folder patterns: everything under it.
        ("tmp/", "tmp/a/b", True),
        ("tmp/", "x/tmp/a", False),
        # Sets, never matching '/'.
        ("[ab].raw", "a.raw", True),
        ("[ab].raw", "c.raw", False),
        ("[!ab].raw", "c.raw", True),
        ("[!ab].raw", "a.raw", False),
        ("x[!a]y/z", "x/y/z", False),
        ("[a-c]1", "b1", True),
        ("[", "[", True),  # unclosed: literal
        # Regex characters are literal.
        ("a+b(1).raw", "a+b(1).raw", True),
        ("a.b", "axb", False),
        # Case-sensitive.
        ("*.tif", "A.TIF", False),
        # Leading '/' of the listing path is ignored.
        ("run*/*.tif", "/run1/a.tif", True),
        # Names with newlines and spaces.
        ("*.raw", "run 1/a\nb.raw", True),
    ],
)
def test_glob_rules(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_unicode_compares_in_nfc() -> None:
    nfc = unicodedata.normalize("NFC", "Müller/probe-é.raw")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert matches("Müller/*.raw", nfd)
    assert matches(unicodedata.normalize("NFD", "Müller/*.raw"), nfc)
    assert matches("probe-?.raw", nfd)  # one character, however it was composed


def test_first_matching_pattern_in_order() -> None:
    globs = GlobSet(["*.log", "run/*", "*"])
    assert globs.first("run/a.log") == 0
    assert globs.first("run/a.raw") == 1
    assert globs.first("other/a.raw") == 2
    assert GlobSet([]).first("a") is None
    assert not GlobSet([])


def test_invalid_pattern_is_named() -> None:
    with pytest.raises(GlobError, match=r"\[z-a\]"):
        GlobSet(["ok.*", "[z-a].raw"])
