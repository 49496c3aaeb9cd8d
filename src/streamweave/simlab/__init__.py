"""Simulated lab: sample instrument data and real file servers on loopback, for tests and demos.

``generate`` writes a seeded dataset; ``running_lab`` serves a directory over SMB (smbd),
S3, SFTP and WebDAV (rclone serve) on 127.0.0.1 and stops everything afterwards.
"""

# The servers ``running_lab`` can start. Here rather than in ``servers``, so that the
# command line can offer them without importing the servers' dependencies.
SERVER_KINDS = ("smb", "s3", "sftp", "webdav")
