"""The send loop: one thread running an asyncio loop that makes every HTTP call of one dispatcher.

Contract: pure asyncio, no database. The dispatcher hands it coroutines (`submit`, from any thread);
each one waits for its booked time, sends, and hands its result back to the dispatcher's results
queue (read by the result writer). `close` waits for the sends still running, then closes the
connections and stops the thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

SendCall = tuple[Callable[..., Coroutine[Any, Any, None]], tuple]  # a coroutine function and its arguments


class SendLoop:
    """A thread running an asyncio loop that makes every HTTP call of one dispatcher.

    Up to the provider's concurrency of requests are in flight on it at once. (With a thread per
    request in flight, the dispatcher spent more CPU handing the GIL between threads than sending:
    at 100 in flight, 1.6 ms of CPU per request against 0.3 ms on one loop, on this machine.)
    Other threads hand sends over with `submit`.
    """

    def __init__(self, name: str, *, fallback, limit: int):
        from rcsconnect.http import AsyncOutbound

        self.loop = asyncio.new_event_loop()
        self.tasks: set[asyncio.Task] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

        async def open_client() -> AsyncOutbound:
            return AsyncOutbound(fallback, limit=limit)

        self.client = asyncio.run_coroutine_threadsafe(open_client(), self.loop).result()

    def submit(self, calls: list[SendCall]) -> None:
        """Start these coroutines on the loop (one wake-up of the loop for the lot)."""
        if calls:
            self.loop.call_soon_threadsafe(self._spawn, calls)

    def _spawn(self, calls: list[SendCall]) -> None:
        for function, args in calls:
            task = self.loop.create_task(function(*args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        """Wait for the sends still running, close the connections, stop the thread."""

        async def finish() -> None:
            while self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.close()
            await self.loop.shutdown_default_executor()  # the threads that fetched tokens

        # Everything runs on the loop's own thread: the caller's thread may be running a loop of
        # its own (an async caller, Playwright's sync API in tests), where this loop cannot run.
        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()
