"""Connection details of the lab's servers, as typed records a test or a demo connects with.

Secrets are left out of ``repr`` so that a logged or asserted server shows no password.
``rclone_env`` describes the server as an rclone remote through environment variables.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from streamweave.simlab import rclone
from streamweave.simlab.processes import ManagedProcess

INSTRUMENT = "instrument"
ARCHIVE = "archive"


@dataclass(frozen=True, kw_only=True)
class LabServer:
    """Connection details of one running server, and the means to stop it."""

    kind: ClassVar[str]
    # How a person names one of the two areas: "share {}", "bucket {}", "/{}".
    area_format: ClassVar[str]
    host: str
    port: int
    instrument: str = INSTRUMENT
    archive: str = ARCHIVE
    process: ManagedProcess = field(repr=False, compare=False)
    workdir: Path = field(repr=False, compare=False)

    def rclone_options(self) -> dict[str, str]:
        raise NotImplementedError

    def rclone_env(self, remote: str = "src") -> dict[str, str]:
        """``RCLONE_CONFIG_<REMOTE>_*`` variables: ``rclone lsjson <remote>:instrument`` works."""
        return rclone.remote_env(remote, self.rclone_options())

    def endpoint(self) -> str:
        """Where a person's client connects to."""
        raise NotImplementedError

    def credentials(self) -> tuple[str, str]:
        """The user name and the secret a client logs in with."""
        raise NotImplementedError

    def details(self) -> dict[str, str]:
        """What a person needs to connect by hand (includes the throwaway secret)."""
        user, secret = self.credentials()
        return {
            "endpoint": self.endpoint(),
            "user": user,
            "secret": secret,
            "instrument": self.area_format.format(self.instrument),
            "archive": self.area_format.format(self.archive),
        }

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass(frozen=True, kw_only=True)
class _PasswordServer(LabServer):
    """A server the service account logs in to with a password (all but S3)."""

    username: str
    password: str = field(repr=False)

    @cached_property
    def _obscured(self) -> str:
        return rclone.obscure(self.password)

    def credentials(self) -> tuple[str, str]:
        return self.username, self.password


@dataclass(frozen=True, kw_only=True)
class SmbServer(_PasswordServer):
    kind: ClassVar[str] = "smb"
    area_format: ClassVar[str] = "share {}"

    @property
    def share(self) -> str:
        return self.instrument

    def rclone_options(self) -> dict[str, str]:
        return {
            "type": "smb",
            "host": self.host,
            "port": str(self.port),
            "user": self.username,
            "pass": self._obscured,
        }

    def endpoint(self) -> str:
        return f"smb://{self.host}:{self.port}/{self.instrument}"


@dataclass(frozen=True, kw_only=True)
class S3Server(LabServer):
    kind: ClassVar[str] = "s3"
    area_format: ClassVar[str] = "bucket {}"
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"

    @property
    def bucket(self) -> str:
        return self.instrument

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rclone_options(self) -> dict[str, str]:
        return {
            "type": "s3",
            "provider": "Rclone",
            "endpoint": self.endpoint_url,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "region": self.region,
            "force_path_style": "true",
        }

    def endpoint(self) -> str:
        return self.endpoint_url

    def credentials(self) -> tuple[str, str]:
        return self.access_key_id, self.secret_access_key


@dataclass(frozen=True, kw_only=True)
class SftpServer(_PasswordServer):
    kind: ClassVar[str] = "sftp"
    area_format: ClassVar[str] = "/{}"
    host_key: str  # "ssh-ed25519 AAAA...": pin it instead of trusting on first use

    def rclone_options(self) -> dict[str, str]:
        return {
            "type": "sftp",
            "host": self.host,
            "port": str(self.port),
            "user": self.username,
            "pass": self._obscured,
            "host_keys": self.host_key,
            # Known for rclone's server: skips the detection round trips on every connect.
            "shell_type": "unix",
        }

    def endpoint(self) -> str:
        return f"sftp://{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class WebdavServer(_PasswordServer):
    kind: ClassVar[str] = "webdav"
    area_format: ClassVar[str] = "/{}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def rclone_options(self) -> dict[str, str]:
        return {
            "type": "webdav",
            "url": self.url,
            "vendor": "rclone",
            "user": self.username,
            "pass": self._obscured,
        }

    def endpoint(self) -> str:
        return self.url
