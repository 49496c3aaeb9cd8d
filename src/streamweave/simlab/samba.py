"""A private smbd: own smb.conf, passdb, lock and state directories, one high port.

Nothing of the machine's Samba setup is read or touched, so several labs (and a real
Samba) can run side by side. smbd needs root: it switches to the account that logged in.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Mapping
from pathlib import Path

from streamweave.simlab.errors import LabError, ServerStartError
from streamweave.simlab.processes import ManagedProcess, find_binary

SAMBA_PACKAGE = "samba"
_STATE_DIRS = ("private", "lock", "state", "cache", "pid", "ncalrpc")
_USERADD_EXISTS = 9


class SambaNeedsRoot(LabError):
    """smbd cannot serve (it switches user ids per connection) without root."""


def check_samba() -> tuple[str, str]:
    """Paths of smbd and smbpasswd, or the error that says what to install or change."""
    smbd = find_binary("smbd", SAMBA_PACKAGE)
    smbpasswd = find_binary("smbpasswd", SAMBA_PACKAGE)
    if os.geteuid() != 0:
        raise SambaNeedsRoot(
            "smbd must run as root (it switches to the logged-in account); run the lab as root"
        )
    return smbd, smbpasswd


def ensure_unix_account(name: str) -> None:
    """Create system user ``name`` (no home, no shell) if missing: Samba maps logins to it."""
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    useradd = find_binary("useradd", "passwd")
    done = subprocess.run(  # noqa: S603 - fixed flags, the name is ours
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Another lab starting at the same moment may have created it first.
    if done.returncode not in (0, _USERADD_EXISTS):
        raise LabError(f"cannot create unix account {name!r} for Samba: {done.stderr.strip()}")


def smb_conf(
    workdir: Path, port: int, shares: Mapping[str, tuple[Path, bool]], username: str
) -> str:
    """The configuration text; ``shares`` maps a share name to (path, writable)."""
    for path in (workdir, *(path for path, _ in shares.values())):
        if "\n" in str(path):
            raise LabError(f"{path!r} contains a newline, which smb.conf cannot express")
    # Share access runs as the lab's own user: it can reach datasets under private (0700)
    # temporary directories, and files written through [archive] belong to whoever
    # cleans them up. Only the service account may log in.
    run_as = pwd.getpwuid(os.geteuid()).pw_name
    lines = [
        "[global]",
        "server role = standalone server",
        f"smb ports = {port}",
        "bind interfaces only = yes",
        "interfaces = lo 127.0.0.1",
        "disable netbios = yes",
        "server min protocol = SMB2_10",
        f"private dir = {workdir / 'private'}",
        f"state directory = {workdir / 'state'}",
        f"cache directory = {workdir / 'cache'}",
        f"lock directory = {workdir / 'lock'}",
        f"pid directory = {workdir / 'pid'}",
        f"ncalrpc dir = {workdir / 'ncalrpc'}",
        f"passdb backend = tdbsam:{workdir / 'private' / 'passdb.tdb'}",
        f"log file = {workdir / 'smbd.log'}",
        "map to guest = never",
        "load printers = no",
        "printing = bsd",
        "printcap name = /dev/null",
        "disable spoolss = yes",
        # Plain files only: tmpfs and some CI file systems have no user xattrs.
        "store dos attributes = no",
        "ea support = no",
    ]
    for name, (path, writable) in shares.items():
        lines += [
            f"[{name}]",
            f"path = {path}",
            f"read only = {'no' if writable else 'yes'}",
            f"valid users = {username}",
            f"force user = {run_as}",
        ]
    return "\n".join(lines) + "\n"


def _add_user(smbpasswd: str, conf: Path, username: str, password: str) -> None:
    # -s reads the new password twice from stdin, keeping it out of argv.
    done = subprocess.run(  # noqa: S603 - fixed flags, password goes through stdin
        [smbpasswd, "-c", str(conf), "-a", "-s", username],
        input=f"{password}\n{password}\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise ServerStartError(
            f"smbpasswd could not add {username!r}: {(done.stdout + done.stderr).strip()}"
        )


def start_smbd(
    workdir: Path,
    port: int,
    shares: Mapping[str, tuple[Path, bool]],
    username: str,
    password: str,
    env: Mapping[str, str],
) -> ManagedProcess:
    """Write the private configuration, register the account, start smbd in the foreground."""
    smbd, smbpasswd = check_samba()
    ensure_unix_account(username)
    for name in _STATE_DIRS:
        (workdir / name).mkdir(mode=0o700, exist_ok=True)
    conf = workdir / "smb.conf"
    conf.write_text(smb_conf(workdir, port, shares, username))
    _add_user(smbpasswd, conf, username, password)
    return ManagedProcess.start(
        "smbd",
        # --no-process-group: the lab already made smbd a group leader and stops the group.
        [smbd, "--foreground", "--no-process-group", "--debug-stdout", "--configfile", str(conf)],
        env=env,
        log_path=workdir / "smbd.out",
    )
