"""The file extractors on generated sample files (simlab's writers and hand-made TIFFs)."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from streamweave.hooks.extractors import EXTRACTORS, ExtractionError
from streamweave.hooks.extractors import acqus as acqus_extractor
from streamweave.hooks.extractors import tiff as tiff_extractor
from streamweave.simlab import formats

EXPERIMENT = formats.NmrExperiment(
    title="Cholesterol 1H",
    nucleus="1H",
    pulse_program="zg30",
    bf1=600.13,
    ns=16,
    td=65536,
    te=298.0,
    sw_h=12019.23,
    solvent="CDCl3",
    epoch=1767312000,
)


def write(path: Path, chunks: object) -> Path:
    path.write_bytes(b"".join(chunks))  # type: ignore[arg-type]
    return path


# --- Bruker acqus ----------------------------------------------------------------------


def test_acqus_parameters_numbers_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "acqus"
    path.write_text(formats.acqus(EXPERIMENT, "/opt/data/nmr/1/acqus"))
    meta = acqus_extractor.extract(path, "acqus")
    assert meta["acqus.NS"] == 16
    assert meta["acqus.TD"] == 65536
    assert meta["acqus.BF1"] == pytest.approx(600.13)
    assert meta["acqus.SW_h"] == pytest.approx(12019.23)
    assert meta["acqus.NUC1"] == "1H"
    assert meta["acqus.PULPROG"] == "zg30"
    assert meta["acqus.SOLVENT"] == "CDCl3"
    assert meta["acqus.DATE"] == 1767312000
    assert meta["acqus.D"][:3] == [0, 1, 0.03] and len(meta["acqus.D"]) == 64
    # Only ##$ parameters: not the title, not the $$ comment.
    assert not any(key in ("acqus.TITLE", "acqus.ORIGIN") for key in meta)


def test_acqu2s_is_prefixed_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / "acqu2s"
    path.write_text("##$NS= 8\n##$NUC1= <13C>\n##$O1= -1.5e3\n##$USERA1= <>\n##$FLAG= yes\n")
    assert acqus_extractor.extract(path, "acqu2s") == {
        "acqu2s.NS": 8,
        "acqu2s.NUC1": "13C",
        "acqu2s.O1": -1500.0,
        "acqu2s.USERA1": "",
        "acqu2s.FLAG": "yes",
    }


def test_acqus_applies_to_its_names_only() -> None:
    assert acqus_extractor.applies("acqus") and acqus_extractor.applies("acqu2s")
    assert not acqus_extractor.applies("acqu") and not acqus_extractor.applies("acqus.bak")


def test_acqus_read_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "acqus"
    path.write_bytes(b"##$NS= 1\n" + b"x" * (acqus_extractor.MAX_BYTES + 10))
    with pytest.raises(ExtractionError, match="larger than"):
        acqus_extractor.extract(path, "acqus")


def test_acqus_latin1(tmp_path: Path) -> None:
    path = tmp_path / "acqus"
    path.write_bytes("##$NAME= <Jürgen>\n".encode("latin-1"))
    assert acqus_extractor.extract(path, "acqus") == {"acqus.NAME": "Jürgen"}


# --- TIFF ------------------------------------------------------------------------------


def simlab_tiff(path: Path) -> Path:
    return write(
        path,
        formats.tiff(
            random.Random(1),
            64,
            32,
            description="TEM image, 200 kV",
            software="SerialEM 4.1",
            datetime="2026:01:02 03:04:05",
            pixels_per_cm=1000,
        ),
    )


def handmade_tiff(order: str, big: bool = False) -> bytes:
    """A TIFF with RGB bits per sample (stored out of line), make and model."""
    strings = {271: b"ACME Optics\0", 272: b"Scope 9000\0", 305: b"x\0"}
    values_at = 400
    entries = [
        (256, 3, 1, struct.pack(order + "H", 1024)),
        (257, 4, 1, struct.pack(order + "I", 768)),
    ]
    blob = bytearray()
    bits = struct.pack(order + "3H", 8, 8, 8)
    if big:  # 6 bytes fit in BigTIFF's 8-byte slot
        entries.append((258, 3, 3, bits))
    else:
        entries.append((258, 3, 3, values_at))
        blob += bits
    for tag, data in strings.items():
        if len(data) <= (8 if big else 4):
            entries.append((tag, 2, len(data), data))
        else:
            entries.append((tag, 2, len(data), values_at + len(blob)))
            blob += data
    entries.sort()
    if big:
        header = b"II" if order == "<" else b"MM"
        header += struct.pack(order + "HHHQ", 43, 8, 0, 16)
        ifd = struct.pack(order + "Q", len(entries))
        for tag, kind, count, value in entries:
            field = (
                value.ljust(8, b"\0")
                if isinstance(value, bytes)
                else struct.pack(order + "Q", value)
            )
            ifd += struct.pack(order + "HHQ", tag, kind, count) + field
        ifd += struct.pack(order + "Q", 0)
    else:
        header = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
        ifd = struct.pack(order + "H", len(entries))
        for tag, kind, count, value in entries:
            field = (
                value.ljust(4, b"\0")
                if isinstance(value, bytes)
                else struct.pack(order + "I", value)
            )
            ifd += struct.pack(order + "HHI", tag, kind, count) + field
        ifd += struct.pack(order + "I", 0)
    data = (header + ifd).ljust(values_at, b"\0") + blob
    return data + b"\0" * 1000  # pixel data


def test_tiff_tags_of_a_simlab_image(tmp_path: Path) -> None:
    meta = tiff_extractor.extract(simlab_tiff(tmp_path / "img.tif"), "img.tif")
    assert meta == {
        "tiff.width": 64,
        "tiff.height": 32,
        "tiff.bits_per_sample": 16,
        "tiff.description": "TEM image, 200 kV",
        "tiff.software": "SerialEM 4.1",
        "tiff.datetime": "2026:01:02 03:04:05",
    }


@pytest.mark.parametrize("order", ["<", ">"], ids=["little-endian", "big-endian"])
@pytest.mark.parametrize("big", [False, True], ids=["classic", "bigtiff"])
def test_tiff_byte_orders_and_bigtiff(tmp_path: Path, order: str, big: bool) -> None:
    path = tmp_path / "img.TIFF"
    path.write_bytes(handmade_tiff(order, big))
    assert tiff_extractor.extract(path, "img.TIFF") == {
        "tiff.width": 1024,
        "tiff.height": 768,
        "tiff.bits_per_sample": [8, 8, 8],
        "tiff.make": "ACME Optics",
        "tiff.model": "Scope 9000",
        "tiff.software": "x",
    }


def test_tiff_directory_at_the_end_is_found_by_seeking(tmp_path: Path) -> None:
    # Writers such as libtiff put the directory after the pixels.
    pixels = b"\x55" * 3_000_000
    ifd_offset = 8 + len(pixels)
    entries = [(256, 4, 1, 7), (257, 4, 1, 5)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value)
    path = tmp_path / "late.tif"
    path.write_bytes(b"II*\0" + struct.pack("<I", ifd_offset) + pixels + ifd + b"\0\0\0\0")
    assert tiff_extractor.extract(path, "late.tif") == {"tiff.width": 7, "tiff.height": 5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"GIF89a......", "not a TIFF"),
        (b"II*\0\xff\xff\xff\x7f", "ends before"),
        (b"II\x2b\0", "ends before"),
        (b"II\x07\0\x08\0\0\0", "version 7"),
        (b"II*\0\x08\0\0\0\xff\xff", "claims 65535 tags"),
    ],
)
def test_malformed_tiffs_fail_with_the_reason(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.tif"
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=message):
        tiff_extractor.extract(path, "bad.tif")


def test_registry_and_missing_file(tmp_path: Path) -> None:
    assert set(EXTRACTORS) == {"bruker_acqus", "tiff_tags"}
    assert EXTRACTORS["tiff_tags"].applies("a.Tif")
    with pytest.raises(ExtractionError, match="cannot read"):
        EXTRACTORS["tiff_tags"].extract(tmp_path / "gone.tif", "gone.tif")
