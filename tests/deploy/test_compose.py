"""The production stack of ``deploy/docker-compose.yml``, without Docker: each service's
own command and environment, read from the compose file, run as a process on loopback.

PostgreSQL stands in for the ``db`` service (a fresh role and databases, made by the
same init script), ``prefect`` serves on PostgreSQL, ``api`` migrates and serves,
``worker`` joins the work pool, and an administrator made with the command the compose
file documents harvests a local instrument through the API. What only a container
runtime can check (the image build, the network, Caddy's certificates) is not run here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from streamweave.orchestration.server import free_port
from streamweave.simlab.processes import live_group_members
from tests.conftest import _pg_admin, postgres_database

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}``."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, kind, argument = match.groups()
        if variables.get(name):
            return variables[name]
        if kind == "?":
            raise AssertionError(f"compose stops here: {name} unset ({argument})")
        return argument if kind == "-" else ""

    return VARIABLE.sub(replace, value)


class Stack:
    """The compose services as processes: loopback addresses, free ports, one log each."""

    def __init__(self, compose: dict[str, Any], tmp: Path, database: str, prefect_db: str) -> None:
        self.services = compose["services"]
        self.tmp = tmp
        self.ports = {"prefect": free_port(), "api": free_port()}
        self.database, self.prefect_db = database, prefect_db
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def _loopback(self, text: str) -> str:
        """Service names and ports as seen from this machine."""
        text = text.replace("0.0.0.0", "127.0.0.1")
        text = text.replace("/var/lib/streamweave", str(self.tmp / "image-data"))
        text = text.replace("@db:5432/streamweave", f"@127.0.0.1:5432/{self.database}")
        text = text.replace("@db:5432/prefect", f"@127.0.0.1:5432/{self.prefect_db}")
        text = text.replace("prefect:4200", f"127.0.0.1:{self.ports['prefect']}")
        text = re.sub(r"\b4200\b", str(self.ports["prefect"]), text)
        return re.sub(r"\b8000\b", str(self.ports["api"]), text)

    def environment(self, name: str) -> dict[str, str]:
        service = self.services[name]
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_", "STREAMWEAVE_"))
        }
        # What the image provides: this interpreter's scripts, and the Dockerfile's
        # data directory.
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        env["STREAMWEAVE_DATA_DIR"] = str(self.tmp / f"{name}-data")
        env["PREFECT_HOME"] = str(self.tmp / f"{name}-prefect-home")
        env.update(
            {key: self._loopback(str(value)) for key, value in service["environment"].items()}
        )
        return env

    def command(self, name: str) -> list[str]:
        return [self._loopback(part) for part in self.services[name]["command"]]

    def start(self, name: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                self.command(name),
                env=self.environment(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((name, process))
        return process

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def wait_healthy(self, name: str, timeout: float = 120) -> None:
        """Until the service's own health check passes."""
        test = [self._loopback(part) for part in self.services[name]["healthcheck"]["test"]]
        assert test[0] == "CMD"
        process = dict(self.processes)[name]
        deadline = time.monotonic() + timeout
        while subprocess.run(test[1:], capture_output=True, check=False).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not become healthy:\n{self.log(name)}")
            time.sleep(0.5)

    def grace(self, name: str) -> float:
        """The seconds ``docker stop`` waits for the service before it kills it."""
        period = str(self.services[name].get("stop_grace_period", "10s"))
        parsed = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", period)
        assert parsed, f"{name}: stop_grace_period {period!r}"
        minutes, seconds = parsed.groups("0")
        return 60 * int(minutes) + int(seconds)

    def leftovers(self, timeout: float = 10) -> dict[int, str]:
        """What still runs, ``timeout`` seconds at most after the services stopped, in
        the process groups they started (what would die with their containers)."""
        deadline = time.monotonic() + timeout
        while True:
            left = {
                pid: _command(pid)
                for _, process in self.processes
                for pid in live_group_members(process.pid)
            }
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)

    def stop(self) -> list[str]:
        """SIGTERM to every service, as ``docker stop`` sends it; the services that had
        to be killed after their grace period."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        killed = []
        for name, process in reversed(self.processes):
            try:
                process.wait(self.grace(name))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                killed.append(name)
        return killed


@pytest.fixture
def stack(backend: str, tmp_path: Path) -> Iterator[Stack]:
    if backend != "postgresql":
        pytest.skip("the production stack runs on PostgreSQL: it is tested in that pass")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    variables = {
        "POSTGRES_PASSWORD": "compose-db-secret",
        "STREAMWEAVE_SECRET_KEY": uuid.uuid4().hex * 2,
        "STREAMWEAVE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "STREAMWEAVE_HOST": "localhost",
    }
    compose = interpolate(compose, variables)
    role = "streamweave"
    with (
        postgres_database("sw_compose") as streamweave_url,
        postgres_database("sw_prefect") as prefect_url,
    ):
        database, prefect_db = streamweave_url.rsplit("/", 1)[1], prefect_url.rsplit("/", 1)[1]
        # The db service's user, and what its init script does, on the test server.
        init = (DEPLOY / "postgres-init.sql").read_text()
        assert "CREATE DATABASE prefect OWNER streamweave;" in init
        for statement in (
            f"DO $$ BEGIN CREATE ROLE {role} LOGIN; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
            f'ALTER DATABASE "{database}" OWNER TO {role}',
            f'ALTER DATABASE "{prefect_db}" OWNER TO {role}',
        ):
            asyncio.run(_pg_admin(statement))
        running = Stack(compose, tmp_path, database, prefect_db)
        try:
            yield running
        finally:
            running.stop()
            # As docker does after the grace period, so that no test leaves them behind.
            for pid in running.leftovers(timeout=0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_the_compose_services_harvest_an_instrument(stack: Stack, tmp_path: Path) -> None:
    services = stack.services
    assert {"db", "prefect", "api", "worker", "proxy"} <= set(services)
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy api:8000" in caddy and "reverse_proxy prefect:4200" in caddy
    assert "uri /api/auth/check-admin" in caddy

    stack.start("prefect")
    stack.wait_healthy("prefect")
    stack.start("api")
    stack.wait_healthy("api")
    email, password = "data-manager@lab.example.org", "compose stack password"
    created = subprocess.run(
        ["streamweave", "users", "create", email, "--admin", "--password-stdin"],
        input=f"{password}\n",
        env=stack.environment("api"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    stack.start("worker")

    base = f"http://127.0.0.1:{stack.ports['api']}"
    assert httpx.get(f"{base}/api/auth/check-admin").status_code == 401
    token = httpx.post(
        f"{base}/auth/jwt/login", data={"username": email, "password": password}
    ).json()["access_token"]
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert http.get("/api/auth/check-admin").status_code == 200

    source, archive = tmp_path / "instrument", tmp_path / "archive"
    for index in range(5):
        (source / f"run{index}").mkdir(parents=True)
        (source / f"run{index}" / "fid").write_bytes(os.urandom(1000 + index))
    archive.mkdir()
    storage = http.post(
        "/api/storage-locations",
        json={"name": "archive", "type": "posix", "base_path": str(archive)},
    )
    assert storage.status_code == 201, storage.text
    instrument = http.post(
        "/api/instruments",
        json={
            "name": "NMR 400",
            "source_type": "local",
            "source_config": {"path": str(source)},
            "completion_rule": {"mode": "none"},
        },
    )
    assert instrument.status_code == 201, instrument.text
    schedule = http.post(
        "/api/schedules",
        json={
            "instrument_id": instrument.json()["id"],
            "default_storage_location_id": storage.json()["id"],
            "cron_expression": "0 0 1 1 *",
        },
    )
    assert schedule.status_code == 201, schedule.text
    triggered = http.post(f"/api/schedules/{schedule.json()['id']}/trigger")
    assert triggered.status_code == 200, triggered.text

    deadline = time.monotonic() + 180
    while True:
        runs = http.get("/api/harvest-runs", params={"instrument_id": instrument.json()["id"]})
        items = runs.json()["items"]
        if items and items[0]["status"] not in ("running", "pending"):
            break
        assert time.monotonic() < deadline, (
            f"no finished harvest run: {items}\n{stack.log('worker')}"
        )
        time.sleep(1)
    assert items[0]["status"] == "completed", (items, stack.log("worker"))
    copied = sorted(p.name for p in archive.rglob("fid"))
    assert copied == ["fid"] * 5
    assert "compose-db-secret" not in stack.log("api") + stack.log("worker")

    # `docker stop` sends SIGTERM to each container's first process and kills whatever
    # is left after the grace period: each service must stop, all of it, on SIGTERM.
    assert not stack.stop(), "did not stop on SIGTERM within docker's grace period"
    assert not stack.leftovers(), "still running after SIGTERM, and would be killed"


def _command(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return "(gone)"
