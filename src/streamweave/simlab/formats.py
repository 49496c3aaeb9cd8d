"""Instrument file formats, written by hand and small, as chunk iterators.

Each function returns an iterator of byte chunks so that the dataset writer can hash
while writing and never holds a whole file. Contents are derived from a seeded
``random.Random`` only (no clock, no host state), so a seed always gives the same bytes.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK_BYTES = 1 << 20


def text(content: str) -> Iterator[bytes]:
    yield content.encode("utf-8")


def random_bytes(rng: random.Random, size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        step = min(CHUNK_BYTES, remaining)
        yield rng.randbytes(step)
        remaining -= step


def repeated_block(
    rng: random.Random, size: int, block_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """``size`` bytes from one seeded block, fast enough for hundreds of MiB.

    Each block starts with its own index: with identical blocks a copier that swapped or
    repeated chunks would still produce a matching checksum.
    """
    block = rng.randbytes(block_bytes)
    index = 0
    remaining = size
    while remaining > 0:
        chunk = struct.pack("<Q", index) + block[8:]
        step = min(block_bytes, remaining)
        yield chunk[:step]
        remaining -= step
        index += 1


# --- Bruker NMR -------------------------------------------------------------------


@dataclass(frozen=True)
class NmrExperiment:
    """Acquisition parameters of one Bruker experiment (a numbered folder)."""

    title: str
    nucleus: str
    pulse_program: str
    bf1: float
    ns: int
    td: int
    te: float
    sw_h: float
    solvent: str
    epoch: int


def acqus(exp: NmrExperiment, origin_path: str) -> str:
    """JCAMP-DX parameter file as TopSpin writes it (the keys metadata hooks read)."""
    delays = " ".join(f"{value:g}" for value in [0, 1, 0.03, *[0] * 61])
    lines = [
        "##TITLE= Parameter file, TopSpin 4.1.4",
        "##JCAMPDX= 5.0",
        "##DATATYPE= Parameter Values",
        "##NPOINTS= 1\t$$ modification sequence number",
        "##ORIGIN= Bruker BioSpin GmbH",
        "##OWNER= nmrsu",
        f"$$ {origin_path}",
        "##$AQ_mod= 3",
        f"##$BF1= {exp.bf1:.2f}",
        "##$BYTORDA= 0",
        "##$D= (0..63)",
        delays,
        f"##$DATE= {exp.epoch}",
        "##$DS= 2",
        "##$DTYPA= 0",
        f"##$NS= {exp.ns}",
        f"##$NUC1= <{exp.nucleus}>",
        f"##$PULPROG= <{exp.pulse_program}>",
        f"##$SFO1= {exp.bf1 + 0.0024:.4f}",
        f"##$SOLVENT= <{exp.solvent}>",
        f"##$SW= {exp.sw_h / exp.bf1:.4f}",
        f"##$SW_h= {exp.sw_h:.2f}",
        f"##$TD= {exp.td}",
        f"##$TE= {exp.te:.1f}",
        "##END=",
    ]
    return "\n".join(lines) + "\n"


def pulseprogram(name: str) -> str:
    return (
        f";{name}\n;avance-version (12/01/11)\n;1D sequence\n;using 30 degree flip angle\n\n"
        '#include <Avance.incl>\n\n"acqt0=-p1*2/3.1416"\n\n'
        "1 ze\n2 30m\n  d1\n  p1*0.33 ph1\n  go=2 ph31\n  30m mc #0 to 2 F0(zd)\n"
        "exit\n\nph1=0 2 2 0 1 3 3 1\nph31=0 2 2 0 1 3 3 1\n"
    )


def fid(rng: random.Random, exp: NmrExperiment) -> Iterator[bytes]:
    """Free induction decay: TD int32 little-endian values, real/imaginary interleaved.

    A few decaying oscillations plus noise, rounded to integers well away from the
    last bits of floating point, so the bytes do not depend on the maths library.
    """
    peaks = [(rng.uniform(0.02, 0.45), rng.uniform(0.2, 1.0)) for _ in range(rng.randint(3, 7))]
    decay = 5.0 / exp.td
    points = exp.td // 2
    for start in range(0, points, 4096):
        values: list[int] = []
        for n in range(start, min(points, start + 4096)):
            envelope = math.exp(-decay * n)
            real = sum(a * math.cos(2 * math.pi * f * n) for f, a in peaks) * envelope
            imag = sum(a * math.sin(2 * math.pi * f * n) for f, a in peaks) * envelope
            noise = rng.randint(-2000, 2000)
            values.append(round(real * 2e6) + noise)
            values.append(round(imag * 2e6) - noise)
        yield struct.pack(f"<{len(values)}i", *values)


# --- HPLC ---------------------------------------------------------------------------


def hplc_csv(
    rng: random.Random, sample: str, injected: str, minutes: float = 20.0
) -> Iterator[bytes]:
    """Chromatogram export: metadata lines, then time and absorbance columns."""
    header = (
        f"Sample Name,{sample}\nInjection Date,{injected}\nMethod,GRAD_5_95_20MIN.M\n"
        "Instrument,HPLC-1260-02\nDetector,DAD1 A Sig=254 nm\nUnits,mAU\n\n"
        "Time (min),Absorbance (mAU)\n"
    )
    yield header.encode()
    peaks = [
        (rng.uniform(1, minutes - 1), rng.uniform(5, 900), rng.uniform(0.03, 0.2)) for _ in range(6)
    ]
    rows = []
    steps = int(minutes * 60 * 2)  # 2 Hz detector
    for i in range(steps + 1):
        t = i / 120
        signal = sum(h * math.exp(-(((t - c) / w) ** 2)) for c, h, w in peaks)
        rows.append(f"{t:.4f},{signal + rng.uniform(-0.5, 0.5):.3f}\n")
        if len(rows) == 1000:
            yield "".join(rows).encode()
            rows.clear()
    yield "".join(rows).encode()


# --- Mass spectrometry --------------------------------------------------------------

_THERMO_MAGIC = b"\x01\xa1" + "Finnigan".encode("utf-16-le")


def thermo_raw(rng: random.Random, size: int) -> Iterator[bytes]:
    """A Thermo ``.raw`` look-alike: the real file magic, then opaque seeded bytes."""
    header = _THERMO_MAGIC.ljust(1356, b"\0")
    yield header
    yield from random_bytes(rng, max(0, size - len(header)))


# --- TEM TIFF -----------------------------------------------------------------------

_SHORT, _LONG, _ASCII, _RATIONAL = 3, 4, 2, 5
_TYPE_BYTES = {_ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8}


def _ifd_value(kind: int, values: tuple[int, ...] | str) -> tuple[int, bytes]:
    if isinstance(values, str):
        data = values.encode("ascii") + b"\0"
        return len(data), data
    if kind == _RATIONAL:
        return len(values) // 2, struct.pack(f"<{len(values)}I", *values)
    code = "H" if kind == _SHORT else "I"
    return len(values), struct.pack(f"<{len(values)}{code}", *values)


def tiff(
    rng: random.Random,
    width: int,
    height: int,
    *,
    description: str,
    software: str,
    datetime: str,
    pixels_per_cm: int,
) -> Iterator[bytes]:
    """A baseline little-endian TIFF: one strip of 16-bit grey pixels, no compression."""
    image_bytes = width * height * 2
    tags: list[tuple[int, int, tuple[int, ...] | str]] = [
        (256, _LONG, (width,)),
        (257, _LONG, (height,)),
        (258, _SHORT, (16,)),
        (259, _SHORT, (1,)),  # no compression
        (262, _SHORT, (1,)),  # black is zero
        (270, _ASCII, description),
        (273, _LONG, (0,)),  # strip offset, patched below once the layout is known
        (277, _SHORT, (1,)),
        (278, _LONG, (height,)),
        (279, _LONG, (image_bytes,)),
        (282, _RATIONAL, (pixels_per_cm, 1)),
        (283, _RATIONAL, (pixels_per_cm, 1)),
        (296, _SHORT, (3,)),  # centimetre
        (305, _ASCII, software),
        (306, _ASCII, datetime),
    ]
    ifd_offset = 8
    extra_offset = ifd_offset + 2 + 12 * len(tags) + 4
    encoded = [(tag, kind, *_ifd_value(kind, values)) for tag, kind, values in tags]
    extra_size = sum(len(data) + len(data) % 2 for *_, data in encoded if len(data) > 4)
    strip_offset = extra_offset + extra_size
    entries = bytearray(struct.pack("<H", len(tags)))
    extra = bytearray()
    for tag, kind, count, data in encoded:
        if tag == 273:
            data = struct.pack("<I", strip_offset)
        if len(data) <= 4:
            entries += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\0")
        else:
            entries += struct.pack("<HHII", tag, kind, count, extra_offset + len(extra))
            extra += data + b"\0" * (len(data) % 2)  # values start on word boundaries
    entries += struct.pack("<I", 0)  # no further image
    yield b"II*\0" + struct.pack("<I", ifd_offset) + bytes(entries) + bytes(extra)
    yield from random_bytes(rng, image_bytes)


# --- Illumina -----------------------------------------------------------------------


def bcl(rng: random.Random, clusters: int) -> Iterator[bytes]:
    """Base call file: uint32 cluster count, then one byte per cluster (base + quality)."""
    yield struct.pack("<I", clusters)
    yield rng.randbytes(clusters)


def run_info_xml(run_id: str, flowcell: str, instrument: str, cycles: int, lanes: int) -> str:
    return (
        '<?xml version="1.0"?>\n<RunInfo Version="2">\n'
        f'  <Run Id="{run_id}" Number="42">\n    <Flowcell>{flowcell}</Flowcell>\n'
        f"    <Instrument>{instrument}</Instrument>\n    <Date>{run_id[:6]}</Date>\n"
        "    <Reads>\n"
        f'      <Read Number="1" NumCycles="{cycles}" IsIndexedRead="N" />\n'
        "    </Reads>\n"
        f'    <FlowcellLayout LaneCount="{lanes}" SurfaceCount="1" SwathCount="1"'
        ' TileCount="1" />\n'
        "  </Run>\n</RunInfo>\n"
    )
