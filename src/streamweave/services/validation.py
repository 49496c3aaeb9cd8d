"""Checks shared by every resource: paths, cron expressions, time zones."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from streamweave.errors import InvalidInput


def check_path(value: str, *, field: str, absolute: bool) -> str:
    if "\x00" in value:
        raise InvalidInput(f"{field}: contains a NUL character")
    parts = value.replace("\\", "/").split("/")
    if ".." in parts:
        raise InvalidInput(f"{field}: '..' is not allowed in a path ({value!r})")
    if absolute and not value.startswith("/"):
        raise InvalidInput(f"{field}: must be an absolute path starting with '/' ({value!r})")
    if not absolute and value.startswith("/"):
        raise InvalidInput(f"{field}: must be relative, without a leading '/' ({value!r})")
    return value


def check_cron(expression: str) -> str:
    expression = " ".join(expression.split())
    if len(expression.split()) not in (5, 6) or not croniter.is_valid(expression):
        raise InvalidInput(
            f"cron_expression: {expression!r} is not a valid cron expression; "
            "use five fields 'minute hour day-of-month month day-of-week', e.g. '0 * * * *'"
        )
    return expression


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"timezone: {name!r} is not a known IANA time zone (e.g. 'Europe/Berlin', 'UTC')"
        ) from None
    return name


def server_timezone() -> str:
    """This server's IANA time zone (from TZ, /etc/timezone or the /etc/localtime link):
    a schedule's default, so that "0 2 * * *" means 2 a.m. where the lab is. UTC when
    the zone cannot be told by name."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    with contextlib.suppress(OSError):
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    for name in candidates:
        if name and not name.startswith("/"):
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                ZoneInfo(name)
                return "UTC" if name in _UTC_NAMES else name
    return "UTC"


_UTC_NAMES = frozenset(
    {"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu"}
)
