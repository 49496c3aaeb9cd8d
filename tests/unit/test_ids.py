"""db.ids: time-ordered UUIDs for bulk rows."""

from __future__ import annotations

import threading
import time
import uuid

from streamweave.db.ids import new_id


def test_ids_are_version_7_and_increase_within_and_across_milliseconds() -> None:
    ids = [new_id() for _ in range(20_000)]
    time.sleep(0.002)
    ids.append(new_id())
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # Stored as text on SQLite: the hex form sorts the same way.
    assert [i.hex for i in ids] == sorted(i.hex for i in ids)


def test_ids_carry_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_threads_never_get_the_same_id() -> None:
    found: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def make(out: list[uuid.UUID]) -> None:
        out.extend(new_id() for _ in range(5000))

    threads = [threading.Thread(target=make, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in found for i in out]
    assert len(set(every)) == 20_000
    assert all(out == sorted(out) for out in found)
