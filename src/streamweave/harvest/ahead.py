"""An async iterator's items made ahead of their use, in a background task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Ahead(Generic[T]):
    """The items of ``items``, made up to ``depth`` ahead in the background from the
    moment this is made. An error making one is raised where the reader reaches it.
    ``aclose`` when done, read to the end or not: it stops the making."""

    def __init__(self, items: AsyncIterator[T], depth: int) -> None:
        self._queue: asyncio.Queue[tuple[T] | BaseException | None] = asyncio.Queue(depth)
        self._task = asyncio.create_task(self._fill(items))

    async def _fill(self, items: AsyncIterator[T]) -> None:
        try:
            async for item in items:
                await self._queue.put((item,))
            await self._queue.put(None)
        except Exception as exc:  # raised to the reader, where it reads
            await self._queue.put(exc)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        while (entry := await self._queue.get()) is not None:
            if isinstance(entry, BaseException):
                raise entry
            yield entry[0]

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
