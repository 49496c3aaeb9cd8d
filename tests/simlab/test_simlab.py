"""The simulated lab: a deterministic sample dataset and real servers that serve it.

Listings go through the real protocols with rclone (the transfer engine StreamWeave
uses), configured by environment variables only. Samba tests skip without smbd, except
under CI (CI=true), where a missing smbd is a failure.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamweave.cli.main import app
from streamweave.simlab import processes, rclone
from streamweave.simlab.datasets import (
    DEEP_LEVELS,
    LARGE_FILE,
    NFC_NAME,
    NFD_NAME,
    RUN_MARKER,
    Manifest,
    generate,
    verify,
)
from streamweave.simlab.endpoints import LabServer
from streamweave.simlab.errors import DatasetError, LabError, MissingBinary
from streamweave.simlab.processes import live_group_members, port_accepts
from streamweave.simlab.samba import check_samba
from streamweave.simlab.servers import SERVER_KINDS, Lab, running_lab, start_lab

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Small and not a multiple of the 1 MiB block, to keep the suite fast and catch off-by-ones.
SMALL_LARGE = 64 * 1024 + 3
RCLONE_KINDS = ("s3", "sftp", "webdav")
FAST_FAIL = ["--retries", "1", "--low-level-retries", "1"]


def _require_samba() -> None:
    try:
        check_samba()
    except LabError as exc:
        if IN_CI:
            pytest.fail(f"{exc} (Samba is required under CI)")
        pytest.skip(f"Samba cannot run here: {exc}")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("simlab") / "dataset"
    return root, generate(root, large_bytes=SMALL_LARGE)


# --- generator --------------------------------------------------------------------


def test_generate_is_deterministic(dataset: tuple[Path, Manifest], tmp_path: Path) -> None:
    root, manifest = dataset
    again = generate(tmp_path / "again", large_bytes=SMALL_LARGE)
    assert again == manifest
    for entry in list(manifest)[:10]:
        first = (root / entry.path).stat()
        second = (tmp_path / "again" / entry.path).stat()
        assert first.st_mtime == second.st_mtime
    other = generate(tmp_path / "other", large_bytes=SMALL_LARGE, seed=1)
    assert [e.path for e in other] == [e.path for e in manifest]
    changed = {e.path for e in other if e not in manifest.entries}
    assert any(path.endswith("/fid") for path in changed), "another seed gives other bytes"
    assert verify(root, manifest) == []


def test_dataset_has_every_kind(dataset: tuple[Path, Manifest]) -> None:
    root, manifest = dataset
    kinds = {entry.kind for entry in manifest}
    expected = {"nmr", "hplc", "ms", "tem", "sequencer", "marker", "spaces"}
    expected |= {"unicode-nfc", "unicode-nfd", "deep", "empty", "large"}
    assert expected <= kinds
    for entry in manifest:
        assert (root / entry.path).stat().st_size == entry.size

    names = os.listdir(root / "misc" / "unicode")
    assert NFC_NAME != NFD_NAME
    assert unicodedata.is_normalized("NFC", NFC_NAME) and unicodedata.is_normalized("NFD", NFD_NAME)
    assert f"{NFC_NAME}.txt" in names and f"{NFD_NAME}.txt" in names

    deepest = max(manifest, key=lambda entry: entry.path.count("/"))
    assert deepest.path.count("/") >= 20 and DEEP_LEVELS >= 20
    assert (root / deepest.path).read_text() == "found me\n"

    empty = [entry for entry in manifest if entry.size == 0]
    assert empty and all((root / entry.path).stat().st_size == 0 for entry in empty)
    assert any(" " in entry.path for entry in manifest)
    assert (root / LARGE_FILE).stat().st_size == SMALL_LARGE


def test_sequencer_runs_finished_and_running(dataset: tuple[Path, Manifest]) -> None:
    root, _ = dataset
    runs = sorted((root / "sequencer").iterdir())
    finished = [run for run in runs if (run / RUN_MARKER).is_file()]
    running = [run for run in runs if not (run / RUN_MARKER).exists()]
    assert len(finished) == 1 and len(running) == 1
    bcls = sorted((finished[0] / "Data/Intensities/BaseCalls/L001").glob("*.bcl"))
    assert len(bcls) == 12
    data = bcls[0].read_bytes()
    (clusters,) = struct.unpack("<I", data[:4])
    assert len(data) == 4 + clusters
    assert (finished[0] / RUN_MARKER).read_text().startswith("3/14/2026")


def _jcamp(path: Path) -> dict[str, str]:
    params = {}
    for line in path.read_text().splitlines():
        if line.startswith("##$"):
            key, _, value = line[3:].partition("= ")
            params[key] = value
    return params


def test_nmr_experiment_folders(dataset: tuple[Path, Manifest]) -> None:
    root, _ = dataset
    experiment = root / "nmr" / "2026-03-14_sample42" / "1"
    params = _jcamp(experiment / "acqus")
    assert params["BF1"] in ("400.13", "600.13")
    assert int(params["NS"]) in (8, 16, 32)
    assert float(params["TE"]) in (298.0, 300.0, 310.0)
    assert params["PULPROG"] == "<zg30>"
    assert (experiment / "pulseprogram").read_text().startswith(";zg30")
    assert (experiment / "fid").stat().st_size == int(params["TD"]) * 4  # int32 per point
    assert (root / "nmr" / "2026-03-14_sample42" / "2" / "acqus").is_file()


def _tiff_tags(path: Path) -> tuple[dict[int, int], int]:
    data = path.read_bytes()
    assert data[:4] == b"II*\0"
    (offset,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, offset)
    tags = {}
    for index in range(count):
        tag, kind, _n, value = struct.unpack_from("<HHII", data, offset + 2 + 12 * index)
        tags[tag] = value & 0xFFFF if kind == 3 else value
    return tags, len(data)


def test_tem_images_are_valid_tiff(dataset: tuple[Path, Manifest]) -> None:
    root, manifest = dataset
    images = [entry for entry in manifest if entry.kind == "tem"]
    assert len(images) >= 3
    tags, size = _tiff_tags(root / images[0].path)
    width, height, bits = tags[256], tags[257], tags[258]
    assert (width, height, bits) == (256, 256, 16)
    assert tags[259] == 1  # uncompressed
    assert tags[273] + tags[279] == size  # the strip ends the file
    assert tags[279] == width * height * bits // 8


def test_hplc_and_ms_files(dataset: tuple[Path, Manifest]) -> None:
    root, manifest = dataset
    csv = root / manifest.of_kind("hplc")[0].path
    lines = csv.read_text().splitlines()
    header = lines.index("Time (min),Absorbance (mAU)")
    time_, absorbance = lines[header + 1].split(",")
    assert float(time_) == 0.0 and float(absorbance) > -10
    raw = (root / manifest.of_kind("ms")[0].path).read_bytes()
    assert raw.startswith(b"\x01\xa1" + "Finnigan".encode("utf-16-le"))


def test_large_file_is_optional(tmp_path: Path) -> None:
    skipped = generate(tmp_path / "a", large=False)
    assert not skipped.of_kind("large") and not (tmp_path / "a" / LARGE_FILE).exists()
    assert not generate(tmp_path / "b", large_bytes=0).of_kind("large")


def test_generate_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not an empty directory"):
        generate(tmp_path, large_bytes=0)
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_manifest_json_round_trip(dataset: tuple[Path, Manifest]) -> None:
    _, manifest = dataset
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_manifest_checksums_match_rclone(dataset: tuple[Path, Manifest]) -> None:
    """The transfer engine computes the same xxh3-128 as the manifest."""
    root, manifest = dataset
    if manifest.algorithm != "xxh3-128":
        pytest.skip("xxhash is not installed: the manifest uses sha256")
    listed = rclone.lsjson(str(root), {}, extra=["--files-only", "--hash", "--hash-type", "xxh128"])
    assert {e["Path"]: e["Hashes"]["xxh128"] for e in listed} == {
        e.path: e.checksum for e in manifest
    }


# --- servers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rclone_lab(dataset: tuple[Path, Manifest]) -> Iterator[Lab]:
    with running_lab(dataset[0], RCLONE_KINDS) as lab:
        yield lab


@pytest.fixture(scope="module")
def smb_lab(dataset: tuple[Path, Manifest]) -> Iterator[Lab]:
    _require_samba()
    with running_lab(dataset[0], ("smb",)) as lab:
        yield lab


@pytest.fixture(params=SERVER_KINDS)
def served(request: pytest.FixtureRequest) -> tuple[Lab, LabServer]:
    kind: str = request.param
    lab: Lab = request.getfixturevalue("smb_lab" if kind == "smb" else "rclone_lab")
    return lab, lab.servers[kind]


def test_listing_through_the_protocol_returns_the_dataset(
    served: tuple[Lab, LabServer], dataset: tuple[Path, Manifest]
) -> None:
    _, server = served
    _, manifest = dataset
    listed = rclone.lsjson(f"src:{server.instrument}", server.rclone_env(), extra=["--files-only"])
    assert {e["Path"]: e["Size"] for e in listed} == {e.path: e.size for e in manifest}


def test_archive_is_writable_and_instrument_read_only(
    served: tuple[Lab, LabServer], dataset: tuple[Path, Manifest], tmp_path: Path
) -> None:
    lab, server = served
    root, _ = dataset
    local = tmp_path / "upload.bin"
    local.write_bytes(os.urandom(70_000))
    env = server.rclone_env()
    target = f"{server.kind}/sub dir/upload.bin"
    rclone.run(["copyto", *FAST_FAIL, str(local), f"src:{server.archive}/{target}"], env)
    assert (lab.archive_dir / target).read_bytes() == local.read_bytes()
    with pytest.raises(rclone.RcloneError):
        rclone.run(["copyto", *FAST_FAIL, str(local), f"src:{server.instrument}/intruder.bin"], env)
    assert not (root / "intruder.bin").exists()


def test_new_files_show_up_in_the_next_listing(served: tuple[Lab, LabServer]) -> None:
    """An instrument writes while it is harvested: no stale directory cache may hide that."""
    lab, server = served
    env = server.rclone_env()
    before = rclone.lsjson(f"src:{server.archive}", env, recursive=False)
    fresh = lab.archive_dir / f"fresh-{server.kind}.txt"
    fresh.write_text("new acquisition\n")
    after = rclone.lsjson(f"src:{server.archive}", env, recursive=False)
    assert fresh.name not in {e["Name"] for e in before}
    assert fresh.name in {e["Name"] for e in after}


def test_secrets_never_appear_in_process_arguments(served: tuple[Lab, LabServer]) -> None:
    _, server = served
    secret = server.details()["secret"]
    pids = live_group_members(server.process.pgid)
    assert pids
    for pid in pids:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert secret not in argv


def test_stopping_leaves_nothing_behind(dataset: tuple[Path, Manifest]) -> None:
    kinds = list(RCLONE_KINDS)
    try:
        check_samba()
        kinds.append("smb")
    except LabError:
        if IN_CI:
            raise
    began = time.monotonic()
    with running_lab(dataset[0], kinds) as lab:
        started = time.monotonic() - began
        servers = list(lab.servers.values())
        archive = lab.archive_dir
        assert all(port_accepts(s.host, s.port) for s in servers)
    assert started < 30
    for server in servers:
        assert live_group_members(server.process.pgid) == [], f"{server.kind} left processes"
        assert not port_accepts(server.host, server.port)
        assert not server.workdir.exists()
    assert not archive.exists()
    assert not lab.servers


def test_a_missing_server_names_its_package(
    dataset: tuple[Path, Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(processes, "_EXTRA_PATH", ())
    with pytest.raises(MissingBinary, match=r"smbd not found: apt-get install samba"):
        processes.find_binary("smbd", "samba")
    with pytest.raises(MissingBinary, match="apt-get install samba"):
        start_lab(dataset[0], ("webdav", "smb"))  # refused before webdav starts


def test_unknown_server_kind_is_refused(dataset: tuple[Path, Manifest]) -> None:
    with pytest.raises(LabError, match="choose from"):
        start_lab(dataset[0], ("ftp",))


# --- command line -----------------------------------------------------------------


def test_cli_generate(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "data"
    result = runner.invoke(
        app,
        [
            "simlab",
            "generate",
            str(target),
            "--large-mib",
            "0",
            "--manifest",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = Manifest.from_json((tmp_path / "m.json").read_text())
    assert verify(target, manifest) == []
    again = runner.invoke(app, ["simlab", "generate", str(target)])
    assert again.exit_code == 1 and "not an empty directory" in " ".join(again.output.split())


def test_cli_up_serves_until_sigterm(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "streamweave", "simlab", "up", "--dir", str(tmp_path / "data")]
    command += [
        "--large-mib",
        "0",
        "--server",
        "webdav",
        "--archive-dir",
        str(tmp_path / "archive"),
    ]
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as up:
        assert up.stdout is not None
        output = []
        deadline = time.monotonic() + 60
        for line in up.stdout:
            output.append(line)
            if "SIGTERM stops the lab" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "webdav" in text and "http://127.0.0.1:" in text, text
        up.send_signal(signal.SIGTERM)
        rest, _ = up.communicate(timeout=30)
    assert up.returncode == 0, text + rest
    assert "stopped" in rest
    assert (tmp_path / "data" / "nmr").is_dir()
