"""Building hook specs and file facts in tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from streamweave.hooks import FileFacts, HookSpec, no_secret

INSTRUMENT_ID = "6a1f0e4c-2b7d-4c55-9c1e-0d5b8f1e2a33"


def spec(
    target: str,
    config: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    trigger: str | None = None,
    implementation: str = "builtin",
    priority: int = 100,
    fail_closed: bool = False,
    id: str | None = None,
    secret: Callable[[], str | None] = no_secret,
) -> HookSpec:
    if trigger is None:
        trigger = "pre_transfer" if target == "file_filter" else "post_transfer"
    return HookSpec(
        id=id or str(uuid.uuid4()),
        name=name or target,
        trigger=trigger,
        implementation=implementation,
        target=target,
        config=config or {},
        priority=priority,
        fail_closed=fail_closed,
        secret=secret,
    )


def facts(
    source_path: str,
    size: int = 100,
    *,
    destination_path: str | None = None,
    metadata: dict[str, Any] | None = None,
    local_copy: str | None = None,
) -> FileFacts:
    return FileFacts(
        source_path=source_path,
        size=size,
        mtime=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        destination_path=destination_path or f"nmr-600/{source_path}",
        metadata=metadata if metadata is not None else {},
        instrument_id=INSTRUMENT_ID,
        instrument_name="nmr-600",
        local_copy=local_copy,
    )
