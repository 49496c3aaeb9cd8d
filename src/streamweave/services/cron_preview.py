"""The next times a cron expression fires in a time zone, as the scheduler will compute them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from streamweave.services.validation import check_cron, check_timezone


def next_runs(expression: str, timezone: str, count: int, after: datetime) -> list[datetime]:
    """The ``count`` firings of ``expression`` in ``timezone`` strictly after ``after``."""
    expression = check_cron(expression)
    zone = ZoneInfo(check_timezone(timezone))
    times = croniter(expression, after.astimezone(zone))
    return [times.get_next(datetime).astimezone(UTC) for _ in range(count)]
