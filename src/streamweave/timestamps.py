"""Moments as whole microseconds since the Unix epoch, the form listings, harvest entries
and bulk inserts carry: exact (a float would round, and equal must stay equal) and
cheaper than a datetime per file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def microseconds(moment: datetime | None) -> int | None:
    """``moment`` in microseconds since the epoch; a naive one is taken as UTC, as the
    database's timestamp columns take it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // MICROSECOND


def from_microseconds(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + value * MICROSECOND
