"""Running the simulator: in a background thread (tests, benchmarks) or as a foreground process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .httpserver import close_connections, serve
from .knobs import Knobs
from .server import Simulator

logger = logging.getLogger("providers.simulator")


class SimulatorHandle:
    """A simulator running on its own event loop in a daemon thread. Methods are thread-safe."""

    def __init__(self, simulator: Simulator, loop: asyncio.AbstractEventLoop, host: str, port: int):
        self.simulator = simulator
        self.loop = loop
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run fn on the simulator's loop and return its result (state is only touched there)."""
        future: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def stats(self, sender_id: str | None = None) -> dict[str, Any]:
        return self._call(self.simulator.stats_for, sender_id)

    def reset(self, *, knobs: bool = False) -> None:
        self._call(self.simulator.reset, knobs=knobs)

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return self._call(self.simulator.configure, **knobs)

    def knobs(self) -> Knobs:
        return self._call(lambda: self.simulator.knobs)

    def requests(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._call(self.simulator.requests, limit)

    def callbacks(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._call(self.simulator.callbacks, limit)

    def stop(self) -> None:
        if self._stopped is None or self._thread is None:
            return
        self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(*, host: str = "127.0.0.1", port: int = 0, **knobs: Any) -> SimulatorHandle:
    """Start a simulator in a background thread on host:port (0 = ephemeral) and return its handle."""
    initial = Knobs().updated(knobs)
    started: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        asyncio.run(_thread_main(host, port, initial, started))

    thread = threading.Thread(target=run, name="rcs-simulator", daemon=True)
    thread.start()
    handle: SimulatorHandle = started.result(timeout=10)
    handle._thread = thread
    return handle


async def _thread_main(host: str, port: int, knobs: Knobs, started: concurrent.futures.Future) -> None:
    simulator = Simulator(knobs)
    try:
        server, connections = await serve(simulator, host, port)
    except OSError as exc:
        started.set_exception(exc)
        return
    handle = SimulatorHandle(simulator, asyncio.get_running_loop(), host, server.sockets[0].getsockname()[1])
    handle._stopped = asyncio.Event()
    started.set_result(handle)
    await handle._stopped.wait()
    await _shutdown(simulator, [(server, connections)])


async def _shutdown(simulator: Simulator, servers: Iterable[tuple[asyncio.Server, set]]) -> None:
    for server, connections in servers:
        server.close()
        close_connections(connections)
    await simulator.dispatcher.close()
    for server, _ in servers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=2)


Background = Callable[[Simulator, list[str]], Awaitable[None]]


def serve_forever(
    *,
    host: str,
    ports: list[int],
    knobs: Knobs,
    cpu: int | None = None,
    on_listen: Callable[[str], None],
    background: Background | None = None,
) -> None:
    """Run the simulator in this process until SIGTERM or SIGINT (the management command).

    `background(simulator, urls)` runs as a task beside the server (e.g. refreshing knobs).
    """
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_process_main(host, ports, knobs, on_listen, background))


async def _process_main(
    host: str, ports: list[int], knobs: Knobs, on_listen: Callable[[str], None], background: Background | None
) -> None:
    simulator = Simulator(knobs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    servers, urls = [], []
    for port in ports:
        server, connections = await serve(simulator, host, port)
        servers.append((server, connections))
        urls.append(f"http://{host}:{server.sockets[0].getsockname()[1]}")
        on_listen(urls[-1])
    task = asyncio.create_task(background(simulator, urls)) if background is not None else None
    await stop.wait()
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    await _shutdown(simulator, servers)
