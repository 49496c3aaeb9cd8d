"""`streamweave up --demo` from scratch: an empty data directory, no Prefect server
running, to the demo's first verified file; then Ctrl+C stops everything.

This test starts its own embedded Prefect server (that is what it tests); every other
test here shares the session's server.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamweave.orchestration.server import free_port, port_in_use
from tests.conftest import postgres_database

FIRST_FILE_BUDGET_SECONDS = 90


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """No database yet: SQLite in the new data directory, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield {}
        return
    with postgres_database("sw_up") as url:
        yield {"STREAMWEAVE_DATABASE_URL": url}


def read_until(path: Path, pattern: str, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        found = re.search(pattern, text)
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in the output:\n{path.read_text(errors='replace')}")


def test_up_demo_reaches_a_first_verified_file_and_stops_on_ctrl_c(
    tmp_path: Path, fresh_database: dict[str, str]
) -> None:
    api_port, prefect_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "STREAMWEAVE_"))
    }
    env.update(
        {"STREAMWEAVE_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "home")}
    )
    env.update(fresh_database)
    output = tmp_path / "up.txt"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamweave",
                "up",
                "--demo",
                "--port",
                str(api_port),
                "--prefect-port",
                str(prefect_port),
            ],
            env={**env, "COLUMNS": "200"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        seconds = float(
            read_until(
                output,
                r"first verified file .* ([0-9.]+) s after the command started",
                process,
                FIRST_FILE_BUDGET_SECONDS * 2,
            )
        )
        text = output.read_text()
        print(f"\n{text}\n`streamweave up --demo`: first verified file after {seconds:.1f} s")
        assert "log in as admin@example.org with password" in text
        assert f"http://127.0.0.1:{api_port}" in text
        assert seconds < FIRST_FILE_BUDGET_SECONDS
        assert port_in_use("127.0.0.1", api_port) and port_in_use("127.0.0.1", prefect_port)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, output.read_text()
    assert "stopped" in output.read_text()
    assert not port_in_use("127.0.0.1", api_port)
    assert not port_in_use("127.0.0.1", prefect_port)
