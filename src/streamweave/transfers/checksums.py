"""Checksum algorithms: xxh3-128 by default (fast), sha256 and md5 for fixity records
and catalogues that require them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

import xxhash

ALGORITHMS = ("xxh3-128", "sha256", "md5")
DEFAULT_ALGORITHM = "xxh3-128"


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


def new_hasher(algorithm: str) -> Hasher:
    if algorithm == "xxh3-128":
        return xxhash.xxh3_128()
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    raise ValueError(
        f"unknown checksum algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}"
    )


def digester(algorithm: str) -> Callable[[bytes], str]:
    """The hex digest of whole bytes in one call: for small files, cheaper than a
    hasher's three steps."""
    if algorithm == "xxh3-128":
        return xxhash.xxh3_128_hexdigest
    if algorithm == "sha256":
        return lambda data: hashlib.sha256(data).hexdigest()
    if algorithm == "md5":
        return lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest()
    new_hasher(algorithm)  # the same message for an unknown algorithm
    raise AssertionError("unreachable")
