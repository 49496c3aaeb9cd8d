"""An async generator's items made ahead of their use, in a background task."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Ahead(Generic[T]):
    """The items of ``items``, at most ``depth`` of them made ahead of the reader, in
    the background from the moment this is made. An error making one is raised where
    the reader reaches it. ``aclose`` when done, read to the end or not: it stops the
    making and closes ``items`` (their own clean-up runs before it returns)."""

    def __init__(self, items: AsyncGenerator[T, None], depth: int) -> None:
        self._room = asyncio.Semaphore(depth)
        # Unbounded: the semaphore bounds it, and the maker never waits to hand over
        # its last word (the end, or why it stopped).
        self._queue: asyncio.Queue[tuple[T] | BaseException | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._fill(items))

    async def _fill(self, items: AsyncGenerator[T, None]) -> None:
        try:
            async with contextlib.aclosing(items):
                while True:
                    await self._room.acquire()
                    try:
                        item = await anext(items)
                    except StopAsyncIteration:
                        break
                    self._queue.put_nowait((item,))
            self._queue.put_nowait(None)
        except Exception as exc:  # raised to the reader, where it reads
            self._queue.put_nowait(exc)
        except BaseException as exc:
            # Cancelled (by ``aclose``, or by whatever the making called): a reader
            # still waiting gets it too, rather than waiting for ever.
            self._queue.put_nowait(exc)
            raise

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def _items(self) -> AsyncIterator[T]:
        while (entry := await self._queue.get()) is not None:
            if isinstance(entry, BaseException):
                raise entry
            self._room.release()
            yield entry[0]

    async def aclose(self) -> None:
        self._task.cancel()
        # Waits without taking the task's cancellation for the caller's own.
        await asyncio.wait({self._task})
