"""TIFF tags of the first image (IFD0), read with a few bounded seeks, no imaging library.

Classic TIFF and BigTIFF, little- and big-endian. The tags read are those a lab wants
to search by: width, height, bits per sample, make, model, date and time, image
description and software. The pixel data is never read: the directory may sit at the
end of a multi-gigabyte file, so the reader seeks to it instead of reading a prefix.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

from streamweave.hooks.extractors.errors import ExtractionError

SUFFIXES = (".tif", ".tiff")
MAX_ENTRIES = 4096  # IFD0 of real files holds tens of tags; more means a corrupt file
MAX_TEXT_BYTES = 64 * 1024
MAX_VALUES = 16

_ASCII = 2
# type -> (struct code, size in bytes); the integer types are the ones these tags use
_NUMBERS = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}
_TAGS = {
    256: "width",
    257: "height",
    258: "bits_per_sample",
    270: "description",
    271: "make",
    272: "model",
    305: "software",
    306: "datetime",
}


def applies(filename: str) -> bool:
    return filename.lower().endswith(SUFFIXES)


class _Reader:
    def __init__(self, handle: BinaryIO, filename: str) -> None:
        self.handle = handle
        self.filename = filename
        self.order = "<"

    def read(self, offset: int, size: int) -> bytes:
        self.handle.seek(offset)
        data = self.handle.read(size)
        if len(data) != size:
            raise ExtractionError(
                f"{self.filename} is not a readable TIFF: it ends before offset {offset + size}"
            )
        return data

    def unpack(self, code: str, data: bytes) -> tuple[Any, ...]:
        return struct.unpack(self.order + code, data)


def _entries(reader: _Reader) -> tuple[list[bytes], int]:
    """IFD0's raw entries and the size of an entry's value slot (4, or 8 for BigTIFF)."""
    header = reader.read(0, 8)
    if header[:2] not in (b"II", b"MM"):
        raise ExtractionError(f"{reader.filename} is not a TIFF file (no byte-order mark)")
    reader.order = "<" if header[:2] == b"II" else ">"
    (version,) = reader.unpack("H", header[2:4])
    if version == 42:
        (offset,) = reader.unpack("I", header[4:8])
        (count,) = reader.unpack("H", reader.read(offset, 2))
        entry_size, slot, first = 12, 4, offset + 2
    elif version == 43:  # BigTIFF: 8-byte offsets and counts
        (offset,) = reader.unpack("Q", reader.read(8, 8))
        (count,) = reader.unpack("Q", reader.read(offset, 8))
        entry_size, slot, first = 20, 8, offset + 8
    else:
        raise ExtractionError(f"{reader.filename} is not a TIFF file (version {version})")
    if count > MAX_ENTRIES:
        raise ExtractionError(
            f"{reader.filename} is not a readable TIFF: its first directory claims {count} tags"
        )
    block = reader.read(first, entry_size * count)
    return [block[i : i + entry_size] for i in range(0, len(block), entry_size)], slot


def _value(reader: _Reader, entry: bytes, slot: int) -> Any:
    count_code = "I" if slot == 4 else "Q"
    kind = reader.unpack("H", entry[2:4])[0]
    (count,) = reader.unpack(count_code, entry[4 : 4 + slot])
    field = entry[4 + slot :]
    if kind == _ASCII:
        size = min(count, MAX_TEXT_BYTES)
        raw = (
            field[:size]
            if count <= slot
            else reader.read(reader.unpack(count_code, field)[0], size)
        )
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace").strip()
    if kind not in _NUMBERS:
        return None
    code, size = _NUMBERS[kind]
    shown = min(count, MAX_VALUES)
    if count * size <= slot:
        data = field[: shown * size]
    else:
        data = reader.read(reader.unpack(count_code, field)[0], shown * size)
    values = reader.unpack(f"{shown}{code}", data)
    return values[0] if count == 1 else list(values)


def read_tags(handle: BinaryIO, filename: str) -> dict[str, Any]:
    reader = _Reader(handle, filename)
    entries, slot = _entries(reader)
    tags: dict[str, Any] = {}
    for entry in entries:
        (tag,) = reader.unpack("H", entry[:2])
        name = _TAGS.get(tag)
        if name is not None:
            value = _value(reader, entry, slot)
            if value is not None and value != "":
                tags[name] = value
    return tags


def extract(path: Path, filename: str) -> dict[str, Any]:
    """IFD0's tags of the file at ``path``, keyed ``tiff.<tag>`` (``tiff.width``)."""
    try:
        with path.open("rb") as handle:
            tags = read_tags(handle, filename)
    except OSError as exc:
        raise ExtractionError(f"cannot read {filename}: {exc.strerror or exc}") from None
    except struct.error as exc:
        raise ExtractionError(f"{filename} is not a readable TIFF: {exc}") from None
    return {f"tiff.{name}": value for name, value in tags.items()}
