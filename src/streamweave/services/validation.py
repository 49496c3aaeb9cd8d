"""Checks shared by every resource: paths, cron expressions, time zones."""

from __future__ import annotations

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
