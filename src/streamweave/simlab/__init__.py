"""Simulated lab: sample instrument data and real file servers on loopback, for tests and demos.

``generate`` writes a seeded dataset; ``running_lab`` serves a directory over SMB (smbd),
S3, SFTP and WebDAV (rclone serve) on 127.0.0.1 and stops everything afterwards.
"""

from streamweave.simlab.datasets import Manifest, ManifestEntry, generate, verify
from streamweave.simlab.endpoints import LabServer, S3Server, SftpServer, SmbServer, WebdavServer
from streamweave.simlab.errors import DatasetError, LabError, MissingBinary, ServerStartError
from streamweave.simlab.servers import SERVER_KINDS, Lab, running_lab, start_lab

__all__ = [
    "SERVER_KINDS",
    "DatasetError",
    "Lab",
    "LabError",
    "LabServer",
    "Manifest",
    "ManifestEntry",
    "MissingBinary",
    "S3Server",
    "ServerStartError",
    "SftpServer",
    "SmbServer",
    "WebdavServer",
    "generate",
    "running_lab",
    "start_lab",
    "verify",
]
