"""Destinations a hook may choose stay inside the storage root."""

from __future__ import annotations

import pytest

from streamweave.hooks.paths import UnsafeDestination, contained, under


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("logs/a.log", "logs/a.log"),
        ("a//b/./c", "a/b/c"),
        ("./a", "a"),
        ("Müller/Ü.raw", "Müller/Ü.raw"),
        ("...", "..."),  # three dots is a name, not a parent
        ("a/..b/c..", "a/..b/c.."),
    ],
)
def test_safe_paths_are_normalised(path: str, expected: str) -> None:
    assert contained(path) == expected


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "..",
        "a/../../b",
        "a/../b",  # even one a lexical normalisation would cancel
        "logs/..",
        "/etc",
        "/etc/passwd",
        "//server/share",
        "a\\..\\..\\b",
        "C:/Windows",
        "c:evil",
        "a/\x00/b",
        "a/\n/b",
        "\uff0e\uff0e/x",  # fullwidth dots: NFKC folds them to '..'
        "a/\u2024\u2024/b",  # one-dot leaders: NFKC folds them to '..'
        "a/\uff0fb",  # fullwidth solidus: NFKC folds it to '/'
        "",
        "/",
        "./.",
    ],
)
def test_escapes_are_refused(path: str) -> None:
    with pytest.raises(UnsafeDestination):
        contained(path)


def test_under_places_the_path_in_the_folder() -> None:
    assert under("logs/", "/nmr/run1/a.log") == "logs/nmr/run1/a.log"
    with pytest.raises(UnsafeDestination):
        under("../x", "a.log")
    with pytest.raises(UnsafeDestination):
        under("logs", "../../etc/passwd")
