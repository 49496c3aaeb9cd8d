"""Bruker TopSpin parameter files (``acqus``, ``acqu2s``): the ``##$KEY= value`` lines.

JCAMP-DX as TopSpin writes it: ``<text>`` values lose their brackets, numbers become
numbers, and an array header ``(0..63)`` takes the values on the lines that follow.
Other lines (``##TITLE=``, ``$$`` comments) are not parameters and are left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from streamweave.hooks.extractors.errors import ExtractionError

MAX_BYTES = 1 << 20  # real acqus files are a few KiB; a larger file is not one
MAX_ARRAY = 4096
NAMES = frozenset({"acqus", "acqu2s"})

_PARAMETER = re.compile(r"##\$([^=\s]+)=\s?(.*)")
_ARRAY = re.compile(r"\((\d+)\.\.(\d+)\)")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def applies(filename: str) -> bool:
    return filename in NAMES


def _value(text: str) -> Any:
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        return text[1:-1]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse(text: str) -> dict[str, Any]:
    """The parameters of one acqus text, keys without their ``##$``."""
    parameters: dict[str, Any] = {}
    array: list[Any] | None = None
    for line in text.splitlines():
        match = _PARAMETER.match(line)
        if match:
            key, raw = match.groups()
            if _ARRAY.fullmatch(raw.strip()):
                array = parameters[key] = []
            else:
                array = None
                parameters[key] = _value(raw)
        elif line.startswith("##") or line.startswith("$$"):
            array = None
        elif array is not None and len(array) < MAX_ARRAY:
            array.extend(_value(item) for item in line.split()[: MAX_ARRAY - len(array)])
    return parameters


def extract(path: Path, filename: str) -> dict[str, Any]:
    """The parameters of the file at ``path``, keyed ``<filename>.<KEY>`` (``acqus.NS``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ExtractionError(f"cannot read {filename}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ExtractionError(
            f"{filename} is larger than {MAX_BYTES} bytes: not a Bruker parameter file"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # older TopSpin versions write Latin-1 titles
    return {f"{filename}.{key}": value for key, value in parse(text).items()}
