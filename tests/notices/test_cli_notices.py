"""`streamweave harvest` tells admins after the run, whether it failed or not: a
subprocess configured through v0's SMTP variables, against the SMTP sink (SQLite and
PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from streamweave.config import Settings
from tests.harvest.conftest import LocalLab
from tests.notices.conftest import PUBLIC_URL, SinkFactory, notices


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


def harvest_command(settings: Settings, port: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STREAMWEAVE_DATABASE_URL": settings.database_url or "",
        "STREAMWEAVE_DATA_DIR": str(settings.data_dir),
        "STREAMWEAVE_ENV": "test",
        "STREAMWEAVE_PUBLIC_URL": PUBLIC_URL,
        # v0's names: SMTP_TLS=false is a plain connection.
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": "false",
        "SMTP_FROM": "streamweave@lab.example",
    }
    return subprocess.run(
        [sys.executable, "-m", "streamweave", "harvest", "microscope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_harvest_command_mails_a_failure_then_the_recovery(
    lab: LocalLab,
    settings: Settings,
    smtp_sink: SinkFactory,
    admin: dict[str, Any],
    client: httpx.AsyncClient,
) -> None:
    sink = smtp_sink("plain")
    lab.write("run1/a.raw", b"a" * 10)
    parked = lab.source.with_name("parked")
    lab.source.rename(parked)
    failed = harvest_command(settings, sink.port)
    parked.rename(lab.source)

    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    assert "error:" in failed.stderr and "Traceback" not in failed.stderr, failed.stderr
    (mail,) = sink.received
    assert mail.recipients == [admin["email"]]
    assert mail.subject == "[StreamWeave] Harvest of microscope into archive failed"
    assert f"{PUBLIC_URL}/harvest-runs/" in mail.body

    done = harvest_command(settings, sink.port)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert [m.subject for m in sink.received][1:] == [
        "[StreamWeave] Harvest of microscope into archive succeeded again"
    ]
    assert [n["type"] for n in await notices(client, admin)] == [
        "harvest_recovered",
        "harvest_failed",
    ]
