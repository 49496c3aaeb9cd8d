"""harvest.ahead.Ahead: known entries fetched while the source is being listed, plan
pages settled while the previous one is copied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import pytest

from streamweave.harvest.ahead import Ahead


class Source:
    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at, self.fetched = pages, fail_at, 0
        self.closed = False

    async def __call__(self) -> AsyncGenerator[Sequence[Any], None]:
        try:
            for number in range(self.pages):
                if number == self.fail_at:
                    raise ConnectionError("database went away")
                self.fetched += 1
                yield [(number,)]
        finally:
            await asyncio.sleep(0)  # clean-up that awaits, as closing a session does
            self.closed = True


async def test_pages_are_fetched_before_they_are_asked_for_and_arrive_in_order() -> None:
    source = Source(10)
    ahead = Ahead(source(), depth=3)
    await asyncio.sleep(0.01)  # the listing would run here
    assert source.fetched == 3  # made ahead: no more than the depth
    pages = [page async for page in ahead]
    await ahead.aclose()
    assert pages == [[(n,)] for n in range(10)]


async def test_an_error_while_fetching_is_raised_to_the_reader() -> None:
    ahead = Ahead(Source(5, fail_at=2)(), depth=2)
    read = []
    with pytest.raises(ConnectionError, match="database went away"):
        async for page in ahead:
            read.append(page)
    await ahead.aclose()
    assert read == [[(0,)], [(1,)]]


async def test_closing_before_reading_stops_the_fetching() -> None:
    source = Source(100)
    ahead = Ahead(source(), depth=2)
    await asyncio.sleep(0.01)
    await ahead.aclose()
    fetched = source.fetched
    await asyncio.sleep(0.01)
    assert source.fetched == fetched < 100


async def test_closing_while_the_maker_waits_closes_the_source_before_returning() -> None:
    """A run that stops early leaves nothing of the plan running behind it."""
    source = Source(100)
    ahead = Ahead(source(), depth=1)
    await asyncio.sleep(0.01)  # the maker waits for room
    await ahead.aclose()
    assert source.closed


async def test_a_cancellation_inside_the_making_reaches_the_reader() -> None:
    """Whatever cancels the maker (a hook, a library), the reader is told, not left
    waiting for ever."""

    async def cancelled() -> AsyncGenerator[int, None]:
        yield 1
        raise asyncio.CancelledError

    ahead = Ahead(cancelled(), depth=1)
    read = []
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            async for item in ahead:
                read.append(item)
    await ahead.aclose()
    assert read == [1]


async def test_closing_does_not_swallow_the_callers_own_cancellation() -> None:
    async def slow() -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            await asyncio.sleep(0.2)

    ahead = Ahead(slow(), depth=1)
    await asyncio.sleep(0)
    closing = asyncio.create_task(ahead.aclose())
    await asyncio.sleep(0.01)
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
