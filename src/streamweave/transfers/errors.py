"""What can go wrong in a transfer, as exceptions a lab admin can act on.

Every error is retryable unless it says otherwise: a failed item is left with no file
under its final name, so the next run starts it again from scratch.
"""

from __future__ import annotations

from streamweave.errors import StreamWeaveError


class TransferError(StreamWeaveError):
    retryable = True


class AuthenticationFailed(TransferError):
    """The server refused the credentials."""


class HostUnreachable(TransferError):
    """No answer from the server (name, address, port, firewall)."""


class LocationNotFound(TransferError):
    """The share, bucket, export or base directory does not exist."""


class PermissionDenied(TransferError):
    """The account may not read (or write) this path."""


class DestinationFull(TransferError):
    """No space left, or a quota reached, at the destination."""


class SourceChanged(TransferError):
    """The file changed while it was being copied; it is copied again next time."""


class ChecksumMismatch(TransferError):
    """What arrived differs from what was read; nothing was kept under the final name."""


class TransferTimeout(TransferError):
    """An operation made no progress within its time limit."""


class PathNotFound(TransferError):
    """The file is not (or no longer) at the source."""


class DestinationExists(TransferError):
    """A move would replace a file that is already there."""


# An item failing with one of these (after rclone's own low-level retries) means the
# server is gone or refuses the account: the rest of a batch fails at once instead of
# each file waiting out its own retries against a dead server.
BATCH_STOPPING = (HostUnreachable, AuthenticationFailed)
