"""Time-ordered row ids (UUID version 7, RFC 9562) for rows written in bulk.

A random UUID lands anywhere in every index keyed by it, so each insert of a batch
touches a different page; ids that increase go to the end of those indexes instead,
which makes the harvest's inserts cheaper on SQLite and PostgreSQL alike. Layout: 48
bits of Unix time in milliseconds, the version, then 74 bits that start at a random
value each millisecond and count up within it (the RFC's monotonic counter method),
so ids made by one process always increase and two processes practically never
meet.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

_COUNTER_BITS = 74
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1
_LOW_MASK = (1 << 62) - 1
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> uuid.UUID:
    """A fresh id, greater than every one this process made before."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            # Half the counter's range is left above the start: it cannot run out
            # within one millisecond.
            _last_ms, _counter = now, secrets.randbits(_COUNTER_BITS - 1)
        else:  # the same millisecond, or the clock stepped back: keep counting up
            _counter = (_counter + 1) & _COUNTER_MASK
        ms, counter = _last_ms, _counter
    high = counter >> 62  # 12 bits, after the version
    return uuid.UUID(int=(ms << 80) | (7 << 76) | (high << 64) | (2 << 62) | (counter & _LOW_MASK))
