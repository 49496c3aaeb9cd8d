"""The values the harvest and the hooks exchange: what a hook is, sees and answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PRE_TRANSFER = "pre_transfer"
POST_TRANSFER = "post_transfer"


def no_secret() -> str | None:
    """The secret of a hook that has none."""
    return None


@dataclass(frozen=True)
class HookSpec:
    """One configured hook, as the chain runs it.

    ``target`` is the built-in's name, the plugin's name or the webhook's URL.
    ``secret`` returns the webhook's HMAC secret: it is decrypted only when a request is
    signed, and kept out of ``repr`` and comparisons so that it never lands in a log.
    """

    id: str
    name: str
    trigger: str
    implementation: str
    target: str
    config: Mapping[str, Any]
    priority: int
    fail_closed: bool
    secret: Callable[[], str | None] = field(default=no_secret, repr=False, compare=False)


@dataclass
class FileFacts:
    """What a hook sees of one file.

    ``source_path`` is relative to the instrument root and '/'-separated;
    ``destination_path`` is relative to the storage root (pre hooks may change it);
    ``metadata`` flows from hook to hook in priority order. The checksum fields and
    ``local_copy`` (the verified copy's absolute path, when the storage is local, posix
    or NFS) are filled only after the transfer.
    """

    source_path: str
    size: int
    mtime: datetime | None
    destination_path: str
    metadata: dict[str, Any]
    instrument_id: str
    instrument_name: str
    persistent_id: str | None = None
    checksum: str | None = None
    checksum_algorithm: str | None = None
    local_copy: str | None = None


@dataclass
class HookFailure:
    hook: str
    message: str
    blocking: bool


@dataclass
class PreOutcome:
    """The pre-transfer verdict on one file. ``skip_rule`` names the hook and the rule."""

    skip_rule: str | None
    destination_path: str
    metadata: dict[str, Any]
    failures: list[HookFailure]

    @property
    def blocked(self) -> bool:
        return any(failure.blocking for failure in self.failures)


@dataclass(frozen=True)
class GrantRequest:
    """Access to grant on a file. ``value`` is a UUID, a user's e-mail or a group's or
    project's name: the harvest resolves them in bulk."""

    grantee_type: str
    value: str


@dataclass
class PostOutcome:
    metadata: dict[str, Any]
    grants: list[GrantRequest]
    failures: list[HookFailure]

    @property
    def blocked(self) -> bool:
        return any(failure.blocking for failure in self.failures)
