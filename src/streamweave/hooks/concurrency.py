"""Running one coroutine per item with a fixed number of workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def bounded_map(
    items: Sequence[T], function: Callable[[T], Awaitable[R]], workers: int
) -> list[R]:
    """``function`` over ``items``, at most ``workers`` at a time, results in item order.

    Workers pull the next index instead of one task per item: a batch of 20,000 files
    then costs ``workers`` tasks, not 20,000. ``function`` reports its failures in its
    result; an exception escaping it is a bug and cancels the batch.
    """
    results: list[R | None] = [None] * len(items)
    indexes = iter(range(len(items)))

    async def worker() -> None:
        for index in indexes:
            results[index] = await function(items[index])

    async with asyncio.TaskGroup() as group:
        for _ in range(min(max(workers, 1), len(items))):
            group.create_task(worker())
    return results  # type: ignore[return-value]  # every slot was filled
