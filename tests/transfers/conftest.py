"""The simulated lab for transfer tests: one small dataset, one set of servers per module.

Samba needs Debian's ``samba`` package: without it the lab starts without SMB and the
SMB tests skip with the reason, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from streamweave.simlab.datasets import MIB, Manifest, generate
from streamweave.simlab.errors import LabError
from streamweave.simlab.samba import check_samba
from streamweave.simlab.servers import Lab, running_lab

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Several 1 MiB chunks, and not a multiple of one: catches off-by-ones at chunk edges.
LARGE_BYTES = 8 * MIB + 3


class Sample(NamedTuple):
    """The generated dataset (what every instrument area serves) and its manifest."""

    root: Path
    manifest: Manifest


def samba_problem() -> str | None:
    """Why Samba cannot run here, or None when it can."""
    try:
        check_samba()
    except LabError as exc:
        return str(exc)
    return None


def require_samba() -> None:
    """Skip an SMB test where Samba cannot run; under CI, fail it instead."""
    problem = samba_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem} (Samba is required under CI)")
        pytest.skip(f"Samba cannot run here: {problem}")


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    root = tmp_path_factory.mktemp("transfers-lab") / "dataset"
    return Sample(root, generate(root, large_bytes=LARGE_BYTES))


@pytest.fixture(scope="module")
def lab(sample: Sample) -> Iterator[Lab]:
    """SMB (when Samba can run), S3, SFTP and WebDAV serving ``sample``; started once."""
    kinds = ["s3", "sftp", "webdav"]
    if samba_problem() is None:
        kinds.insert(0, "smb")
    with running_lab(sample.root, kinds) as running:
        yield running
