"""Time-ordered row ids (UUID version 7, RFC 9562) for rows written in bulk.

A random UUID lands anywhere in every index keyed by it, so each insert of a batch
touches a different page; ids that increase go to the end of those indexes instead,
which makes the harvest's inserts cheaper on SQLite and PostgreSQL alike. Layout: 48
bits of Unix time in milliseconds, the version, then 74 bits that start at a random
value each millisecond and count up within it (the RFC's monotonic counter method),
so ids made by one process always increase and two processes practically never
meet. ``new_ids`` takes a whole block of the count at once, for batches.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_COUNTER_BITS = 74
_COUNTER_LIMIT = 1 << _COUNTER_BITS
_LOW_MASK = (1 << 62) - 1
_VERSION_AND_VARIANT = (7 << 76) | (2 << 62)
# Looked up once: an enum member's lookup costs as much as the rest of making a UUID.
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _reserve(count: int) -> int:
    """The first of ``count`` (at least 1) consecutive integers that are ids, each
    greater than every id made before."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            # Half the counter's range is left above the start: it cannot run out
            # within one millisecond.
            _last_ms, first = now, secrets.randbits(_COUNTER_BITS - 1)
        else:  # the same millisecond, or the clock stepped back: keep counting up
            first = _counter + 1
        if (first ^ (first + count - 1)) >> 62:
            # The counter's top 12 bits are stored apart from its low 62 (the variant
            # sits between): start the block where they change, so that its ids are
            # consecutive integers.
            first = (first | _LOW_MASK) + 1
        if first + count > _COUNTER_LIMIT:
            # Never in practice (2**73 ids in one millisecond), but should the counter
            # run out, go on in the next millisecond, as the RFC allows, rather than
            # wrap around to smaller ids.
            _last_ms, first = _last_ms + 1, 0
        _counter = first + count - 1
        ms = _last_ms
    return (ms << 80) | _VERSION_AND_VARIANT | (first >> 62 << 64) | (first & _LOW_MASK)


def _uuid(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` for a ``value`` already laid out as an id: the
    constructor's argument checks would be half the cost of an id made in bulk."""
    made = object.__new__(uuid.UUID)
    # What uuid.UUID.__init__ ends with: its slots refuse ordinary assignment.
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def new_id() -> uuid.UUID:
    """A fresh id, greater than every one this process made before."""
    return _uuid(_reserve(1))


def new_ids(count: int) -> list[uuid.UUID]:
    """``count`` fresh ids, increasing: what ``count`` calls of ``new_id`` would give,
    for one lock and a fraction of the cost per id."""
    if count < 1:
        if count < 0:
            raise ValueError(f"cannot make {count} ids")
        return []
    start = _reserve(count)
    return [_uuid(value) for value in range(start, start + count)]
