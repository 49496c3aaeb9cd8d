"""Metadata extractors: read a verified local copy, give metadata keys.

Each extractor says which file names it reads and reads at most a bounded number of
bytes, whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamweave.hooks.extractors import acqus, tiff
from streamweave.hooks.extractors.errors import ExtractionError


@dataclass(frozen=True)
class Extractor:
    name: str
    applies: Callable[[str], bool]  # given the file name
    extract: Callable[[Path, str], dict[str, Any]]  # given the local copy and the file name


EXTRACTORS: dict[str, Extractor] = {
    "bruker_acqus": Extractor("bruker_acqus", acqus.applies, acqus.extract),
    "tiff_tags": Extractor("tiff_tags", tiff.applies, tiff.extract),
}

__all__ = ["EXTRACTORS", "ExtractionError", "Extractor"]
