"""A seeded sample of what lab instruments leave on their shares, written to a directory.

The same seed gives the same tree: same paths, bytes and modification times. What it
holds, and why each piece is there:

- ``nmr/``: Bruker experiment folders (``acqus``, ``pulseprogram``, binary ``fid``),
  the metadata-extraction case.
- ``hplc/``: CSV exports; ``ms/``: Thermo ``.raw`` binaries; ``tem/``: TIFF images.
- ``sequencer/``: one finished Illumina run (``RTAComplete.txt`` marker) and one still
  running (no marker), for completion rules.
- ``misc/``: names with spaces, ``Müller`` in NFC and in NFD (two distinct files), a
  path nested deeper than 20 levels and zero-byte files, the edge cases of transfers.
- ``tem/.../tilt_series.mrc``: one large file (``large_bytes``), for throughput and
  resumption.
"""

from __future__ import annotations

import json
import os
import random
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from streamweave.simlab import formats
from streamweave.simlab.errors import DatasetError

MIB = 1 << 20
DEFAULT_LARGE_BYTES = 256 * MIB
DEEP_LEVELS = 24
# Fixed past modification times: a quiet-period rule sees the sample as settled at once.
_BASE_MTIME = 1773475200  # 2026-03-14 08:00:00 UTC
LARGE_FILE = "tem/2026-03-16_tomo1/tilt_series.mrc"
RUN_MARKER = "RTAComplete.txt"
NFC_NAME = unicodedata.normalize("NFC", "Müller")
NFD_NAME = unicodedata.normalize("NFD", "Müller")


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def _hash_factory() -> tuple[str, Callable[[], _Hasher]]:
    try:
        import xxhash
    except ImportError:  # the harvest prefers xxh3-128; sha256 keeps the lab usable without it
        import hashlib

        return "sha256", hashlib.sha256
    return "xxh3-128", xxhash.xxh3_128


@dataclass(frozen=True)
class ManifestEntry:
    """One generated file: POSIX path relative to the dataset root, size, checksum, kind."""

    path: str
    size: int
    checksum: str
    kind: str


@dataclass(frozen=True)
class Manifest:
    """What :func:`generate` wrote, in writing order; equal for equal seeds and sizes."""

    algorithm: str
    entries: tuple[ManifestEntry, ...]

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {entry.path: entry for entry in self.entries}

    def of_kind(self, kind: str) -> list[ManifestEntry]:
        return [entry for entry in self.entries if entry.kind == kind]

    def to_json(self) -> str:
        entries = [asdict(entry) for entry in self.entries]
        # ensure_ascii keeps NFC and NFD names distinguishable in any viewer.
        return json.dumps(
            {"algorithm": self.algorithm, "entries": entries}, indent=1, ensure_ascii=True
        )

    @classmethod
    def from_json(cls, data: str) -> Manifest:
        raw: dict[str, Any] = json.loads(data)
        return cls(raw["algorithm"], tuple(ManifestEntry(**entry) for entry in raw["entries"]))


Chunks = Callable[[random.Random], Iterable[bytes]]


@dataclass(frozen=True)
class _Spec:
    path: str
    kind: str
    chunks: Chunks


def _rng(seed: int, path: str) -> random.Random:
    # Per-file streams: a file's bytes do not depend on which files come before it.
    return random.Random(f"{seed}:{path}")  # noqa: S311 - sample data, not secrets


def _const(content: str) -> Chunks:
    return lambda _rng: formats.text(content)


def _empty(_rng: random.Random) -> Iterable[bytes]:
    return ()


def _nmr(seed: int) -> Iterator[_Spec]:
    rng = random.Random(f"{seed}:nmr")  # noqa: S311 - sample data, not secrets
    samples = [
        ("2026-03-14_sample42", 2),
        ("2026-03-15_sample43", 1),
        ("2026-03-15_Kinase inhib 7", 1),
    ]
    for day, (folder, experiments) in enumerate(samples):
        for number in range(1, experiments + 1):
            proton = number == 1
            exp = formats.NmrExperiment(
                title=f"{folder} expno {number}",
                nucleus="1H" if proton else "13C",
                pulse_program="zg30" if proton else "zgpg30",
                bf1=rng.choice([400.13, 600.13]) if proton else 150.90,
                ns=rng.choice([8, 16, 32]) if proton else 1024,
                td=16384,
                te=rng.choice([298.0, 300.0, 310.0]),
                sw_h=12019.23 if proton else 36057.69,
                solvent=rng.choice(["CDCl3", "DMSO", "D2O"]),
                epoch=_BASE_MTIME + day * 86400 + number * 1800,
            )
            base = f"nmr/{folder}/{number}"
            yield _Spec(f"{base}/acqus", "nmr", _const(formats.acqus(exp, base)))
            yield _Spec(f"{base}/acqu", "nmr", _const(formats.acqus(exp, base)))
            yield _Spec(
                f"{base}/pulseprogram", "nmr", _const(formats.pulseprogram(exp.pulse_program))
            )
            yield _Spec(f"{base}/fid", "nmr", partial(formats.fid, exp=exp))
            yield _Spec(f"{base}/pdata/1/title", "nmr", _const(exp.title + "\n"))


def _hplc() -> Iterator[_Spec]:
    for run in range(1, 7):
        sample = f"sample{40 + run}"
        injected = f"2026-03-14 {8 + run:02d}:15:00"
        yield _Spec(
            f"hplc/2026-03-14/run_{run:03d}_{sample}.csv",
            "hplc",
            partial(formats.hplc_csv, sample=sample, injected=injected),
        )


def _ms() -> Iterator[_Spec]:
    names = ["QC_blank_01", "QC_std_01", "sample42_rep1", "sample42_rep2"]
    for name in names:
        yield _Spec(f"ms/2026-03-14/{name}.raw", "ms", partial(formats.thermo_raw, size=384 * 1024))


def _tem(large_bytes: int) -> Iterator[_Spec]:
    for n in range(1, 5):
        yield _Spec(
            f"tem/2026-03-14_grid3/image_{n:04d}.tif",
            "tem",
            partial(
                formats.tiff,
                width=256,
                height=256,
                description=f"grid3 square 12 image {n}; magnification 29000x; 300 kV",
                software="SerialEM 4.1",
                datetime=f"2026:03:14 10:{n:02d}:00",
                pixels_per_cm=2_000_000,
            ),
        )
    if large_bytes > 0:
        yield _Spec(LARGE_FILE, "large", partial(formats.repeated_block, size=large_bytes))


def _sequencer() -> Iterator[_Spec]:
    runs = [
        ("260314_M00123_0042_000000000-ABCDE", True),
        ("260316_M00123_0043_000000000-FGHIJ", False),
    ]
    for run_id, finished in runs:
        base = f"sequencer/{run_id}"
        flowcell = run_id.rsplit("-", 1)[1]
        info = formats.run_info_xml(run_id, flowcell, "M00123", cycles=12, lanes=2)
        sheet = "[Header]\nIEMFileVersion,5\n\n[Data]\nSample_ID,index\nS42,ACGTACGT\n"
        yield _Spec(f"{base}/RunInfo.xml", "sequencer", _const(info))
        yield _Spec(f"{base}/SampleSheet.csv", "sequencer", _const(sheet))
        for lane in (1, 2):
            cycles = 12 if finished else 5
            for cycle in range(1, cycles + 1):
                yield _Spec(
                    f"{base}/Data/Intensities/BaseCalls/L{lane:03d}/{cycle:04d}.bcl",
                    "sequencer",
                    partial(formats.bcl, clusters=4096),
                )
        if finished:
            # The marker is written last, as the real instrument does.
            yield _Spec(f"{base}/CopyComplete.txt", "sequencer", _empty)
            marker = "3/14/2026,18:42:07.512,Illumina RTA 1.18.54\n"
            yield _Spec(f"{base}/{RUN_MARKER}", "marker", _const(marker))


def _misc() -> Iterator[_Spec]:
    spaces = "misc/names with spaces"
    yield _Spec(f"{spaces}/Sample 42 (final) v2.csv", "spaces", _const("well,od600\nA1,0.412\n"))
    yield _Spec(f"{spaces}/ leading and inner  spaces.txt", "spaces", _const("edge\n"))
    for form, name in (("NFC", NFC_NAME), ("NFD", NFD_NAME)):
        content = f"Probe von Frau Müller ({form} name)\n"
        yield _Spec(f"misc/unicode/{name}.txt", f"unicode-{form.lower()}", _const(content))
    yield _Spec("misc/unicode/Ångström_Σ_データ.csv", "unicode", _const("λ (nm),I\n254,1.0\n"))
    deep = "/".join(f"level_{n:02d}" for n in range(1, DEEP_LEVELS + 1))
    yield _Spec(f"misc/deep/{deep}/reading.txt", "deep", _const("found me\n"))
    yield _Spec("misc/empty/zero.dat", "empty", _empty)
    yield _Spec("misc/empty/.hidden_zero", "empty", _empty)


def _specs(seed: int, large_bytes: int) -> list[_Spec]:
    return [*_nmr(seed), *_hplc(), *_ms(), *_tem(large_bytes), *_sequencer(), *_misc()]


def _write(root: Path, spec: _Spec, seed: int, new_hasher: Callable[[], _Hasher]) -> ManifestEntry:
    target = root.joinpath(*spec.path.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher = new_hasher()
    size = 0
    try:
        # Exclusive create: on a file system that folds NFC and NFD names into one, the
        # second Müller would otherwise silently replace the first.
        with target.open("xb") as out:
            for chunk in spec.chunks(_rng(seed, spec.path)):
                out.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
    except FileExistsError:
        raise DatasetError(
            f"{spec.path!r} collides with a file already written; the file system at {root} "
            "probably normalises Unicode names (NFC/NFD): generate on Linux ext4, xfs or tmpfs"
        ) from None
    return ManifestEntry(spec.path, size, hasher.hexdigest(), spec.kind)


def _set_times(root: Path, entries: Iterable[ManifestEntry]) -> None:
    directories: set[Path] = set()
    for index, entry in enumerate(entries):
        path = root.joinpath(*entry.path.split("/"))
        stamp = _BASE_MTIME + index * 60
        os.utime(path, (stamp, stamp))
        directories.update(p for p in path.parents if root in p.parents)
    # After all files: creating a file would bump its directory's time again.
    for directory in directories:
        os.utime(directory, (_BASE_MTIME, _BASE_MTIME))


def generate(
    dest: Path, *, large_bytes: int = DEFAULT_LARGE_BYTES, large: bool = True, seed: int = 0
) -> Manifest:
    """Write the sample dataset into ``dest`` (created, must be empty) and return its manifest.

    ``large=False`` (or ``large_bytes=0``) leaves out the large file. Memory stays flat:
    files are streamed in chunks of at most 1 MiB and hashed while written.
    """
    if large_bytes < 0:
        raise DatasetError(f"large_bytes must be >= 0, got {large_bytes}")
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DatasetError(f"{dest} is not an empty directory: choose a new one or empty it first")
    dest.mkdir(parents=True, exist_ok=True)
    algorithm, new_hasher = _hash_factory()
    entries = tuple(
        _write(dest, spec, seed, new_hasher) for spec in _specs(seed, large_bytes if large else 0)
    )
    _set_times(dest, entries)
    return Manifest(algorithm, entries)


def verify(root: Path, manifest: Manifest) -> list[str]:
    """Paths whose size or checksum on disk differ from ``manifest`` (empty: all good)."""
    algorithm, new_hasher = _hash_factory()
    if algorithm != manifest.algorithm:
        raise DatasetError(f"manifest uses {manifest.algorithm}; this installation has {algorithm}")
    bad = []
    for entry in manifest:
        hasher = new_hasher()
        path = root.joinpath(*entry.path.split("/"))
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(formats.CHUNK_BYTES):
                    hasher.update(chunk)
        except FileNotFoundError:
            bad.append(entry.path)
            continue
        if path.stat().st_size != entry.size or hasher.hexdigest() != entry.checksum:
            bad.append(entry.path)
    return bad
