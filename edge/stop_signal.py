"""The agent's stop signal: its loops sleep on it, and setting it wakes them all at once."""

from __future__ import annotations

import asyncio


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class StopSignal:
    """`await stop.sleep(delay)` waits `delay` seconds or until `stop.set()`, whichever comes
    first, and says whether the agent is stopping."""

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._sleepers: set[asyncio.Future[None]] = set()

    def is_set(self) -> bool:
        return self._stopping.is_set()

    def set(self) -> None:
        self._stopping.set()
        for waiter in self._sleepers:
            _wake(waiter)

    async def sleep(self, delay: float) -> bool:
        """Wait `delay` seconds; True when the agent is stopping."""
        if self._stopping.is_set():
            return True
        # a bare future and a timer: `wait_for(event.wait())` costs a task per sleep
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(max(delay, 0.0), _wake, waiter)
        self._sleepers.add(waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._sleepers.discard(waiter)
        return self._stopping.is_set()
