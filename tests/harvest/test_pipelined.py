"""pipeline._Pipelined: batches recorded in the background, two at most, so that one
prepares its rows while the one before it writes."""

from __future__ import annotations

import asyncio

import pytest

from streamweave.harvest.pipeline import _Pipelined


class Batch:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name, self.gate = log, name, asyncio.Event()

    async def record(self, writing: asyncio.Lock | None = None) -> None:
        self.log.append(f"{self.name} prepares")
        await self.gate.wait()
        if writing is None:
            self.log.append(f"{self.name} done")
            return
        async with writing:
            self.log.append(f"{self.name} writes")
            await asyncio.sleep(0.01)
            self.log.append(f"{self.name} wrote")


async def test_two_batches_record_at_once_and_a_third_waits_for_the_first() -> None:
    log: list[str] = []
    pipelined = _Pipelined()
    first, second, third = Batch(log, "1"), Batch(log, "2"), Batch(log, "3")
    await pipelined.start(first.record())
    await pipelined.start(second.record())
    starting = asyncio.create_task(pipelined.start(third.record()))
    await asyncio.sleep(0.01)
    assert log == ["1 prepares", "2 prepares", "3 prepares"]
    assert not starting.done()  # the copy of the next batch waits here
    first.gate.set()
    await starting
    assert log[-1] == "1 done"
    draining = asyncio.create_task(pipelined.drain())
    second.gate.set()
    await asyncio.sleep(0.01)
    assert not draining.done()
    third.gate.set()
    await draining
    assert log[-2:] == ["2 done", "3 done"]


async def test_writes_take_turns_while_the_next_batch_prepares() -> None:
    log: list[str] = []
    pipelined = _Pipelined()
    first, second = Batch(log, "1"), Batch(log, "2")
    await pipelined.start(first.record(pipelined.writing))
    await pipelined.start(second.record(pipelined.writing))
    await asyncio.sleep(0.01)
    second.gate.set()
    first.gate.set()
    await pipelined.drain()
    assert log == ["1 prepares", "2 prepares", "2 writes", "2 wrote", "1 writes", "1 wrote"]


async def test_a_failed_batch_fails_the_drain_and_the_others_still_finish() -> None:
    log: list[str] = []
    pipelined = _Pipelined()

    async def fails() -> None:
        raise OSError("database is full")

    later = Batch(log, "2")
    later.gate.set()
    await pipelined.start(fails())
    await pipelined.start(later.record())
    with pytest.raises(OSError, match="database is full"):
        await pipelined.drain()
    await pipelined.drain()  # what the run's `finally` does
    assert log == ["2 prepares", "2 done"]


async def test_every_batch_is_waited_for_even_when_several_fail() -> None:
    """A run that stops records what it can and finishes nothing while a batch is still
    being recorded (its final counts and lease release come after)."""
    log: list[str] = []
    pipelined = _Pipelined()

    async def fails(name: str) -> None:
        await asyncio.sleep(0.01)
        log.append(f"{name} failed")
        raise OSError(f"{name}: database is full")

    await pipelined.start(fails("1"))
    await pipelined.start(fails("2"))
    with pytest.raises(OSError, match="1: database is full"):
        await pipelined.drain()
    assert log == ["1 failed", "2 failed"]  # the second was waited for too


async def test_a_batch_is_recorded_even_when_the_one_it_waits_for_failed() -> None:
    log: list[str] = []
    pipelined = _Pipelined()

    async def fails() -> None:
        raise OSError("database is full")

    second, third = Batch(log, "2"), Batch(log, "3")
    second.gate.set()
    third.gate.set()
    await pipelined.start(fails())
    await pipelined.start(second.record())
    with pytest.raises(OSError, match="database is full"):
        await pipelined.start(third.record())
    await pipelined.drain()
    assert sorted(log) == ["2 done", "2 prepares", "3 done", "3 prepares"]
