"""harvest.ahead.Ahead: known entries fetched while the source is being listed, plan
pages settled while the previous one is copied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from streamweave.harvest.ahead import Ahead


class Source:
    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at, self.fetched = pages, fail_at, 0

    async def __call__(self) -> AsyncIterator[Sequence[Any]]:
        for number in range(self.pages):
            if number == self.fail_at:
                raise ConnectionError("database went away")
            self.fetched += 1
            yield [(number,)]


async def test_pages_are_fetched_before_they_are_asked_for_and_arrive_in_order() -> None:
    source = Source(10)
    ahead = Ahead(source(), depth=3)
    await asyncio.sleep(0.01)  # the listing would run here
    assert source.fetched == 4  # three queued and one waiting to be
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
