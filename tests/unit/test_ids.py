"""db.ids: time-ordered UUIDs for bulk rows."""

from __future__ import annotations

import pickle
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from itertools import pairwise
from types import SimpleNamespace

import pytest

from streamweave.db import ids
from streamweave.db.ids import _uuid, new_id, new_ids


def _increasing(made: Sequence[uuid.UUID]) -> bool:
    return all(earlier < later for earlier, later in pairwise(made))


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


def test_threads_mixing_single_ids_and_blocks_never_get_the_same_id() -> None:
    found: list[list[uuid.UUID]] = [[] for _ in range(4)]

    def make(out: list[uuid.UUID]) -> None:
        for _ in range(500):
            out.append(new_id())
            out.extend(new_ids(9))

    threads = [threading.Thread(target=make, args=(out,)) for out in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({i for out in found for i in out}) == 20_000
    assert all(_increasing(out) for out in found)


def test_new_ids_gives_as_many_ids_as_asked() -> None:
    for count in (0, 1, 5, 1000):
        made = new_ids(count)
        assert len(made) == count
        assert all(type(i) is uuid.UUID and i.version == 7 for i in made)
        assert all(i.variant == uuid.RFC_4122 for i in made)
    with pytest.raises(ValueError):
        new_ids(-1)


def test_new_id_and_new_ids_together_only_increase() -> None:
    made: list[uuid.UUID] = []
    for count in range(300):
        made.append(new_id())
        made.extend(new_ids(count % 7))
    assert _increasing(made)
    assert [i.hex for i in made] == sorted(i.hex for i in made)


def test_a_hundred_thousand_ids_at_once_are_distinct_and_increasing() -> None:
    before = new_id()
    made = new_ids(100_000)
    after = new_id()
    assert len(set(made)) == 100_000
    assert _increasing([before, *made, after])
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in made)


@pytest.fixture
def set_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Stops the ids' clock at the time in nanoseconds it is given."""
    now = [time.time_ns()]
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: now[0]))
    return lambda nanoseconds: now.__setitem__(0, nanoseconds)


def test_ids_increase_within_one_millisecond_and_when_the_clock_steps_back(
    set_clock: Callable[[int], None],
) -> None:
    made = [new_id(), *new_ids(1000), new_id(), *new_ids(1)]
    set_clock(time.time_ns() - 5_000_000_000)
    made += [*new_ids(1000), new_id()]
    assert len({i.int >> 80 for i in made}) == 1
    assert _increasing(made)


def test_a_block_crossing_into_the_counters_high_bits_is_consecutive_and_increasing(
    set_clock: Callable[[int], None],
) -> None:
    before = new_id()
    # As if the counter had been counted up to 2 short of a carry into its 12 high
    # bits, which sit apart from the low 62 in the layout.
    ids._counter = (ids._counter | (1 << 62) - 1) + (1 << 62) - 2
    block = new_ids(10)
    after = new_id()
    assert _increasing([before, *block, after])
    assert [i.int - block[0].int for i in block] == list(range(10))
    assert len({(i.int >> 64) & 0xFFF for i in block}) == 1
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in block)


def test_a_counter_that_runs_out_goes_on_in_the_next_millisecond(
    set_clock: Callable[[int], None],
) -> None:
    before = new_id()
    ids._counter = (1 << 74) - 3  # as if 2**73 ids had been made in this millisecond
    block = new_ids(5)
    after = new_id()
    assert _increasing([before, *block, after])
    assert block[0].int >> 80 == after.int >> 80 == (before.int >> 80) + 1


@pytest.mark.parametrize(
    "value",
    [0, 1, (1 << 128) - 1, 0x0196_3A1B_2C3D_7ABC_9DEF_0123_4567_89AB, uuid.uuid4().int],
)
def test_the_uuid_shortcut_makes_what_the_constructor_makes(value: int) -> None:
    made, expected = _uuid(value), uuid.UUID(int=value)
    assert type(made) is uuid.UUID
    assert made == expected and hash(made) == hash(expected)
    assert (str(made), made.hex, made.version) == (str(expected), expected.hex, expected.version)
    assert made.is_safe is expected.is_safe
    assert pickle.dumps(made) == pickle.dumps(expected)
    assert pickle.loads(pickle.dumps(made)) == expected
    with pytest.raises(TypeError):
        made.int = 1  # type: ignore[misc]
