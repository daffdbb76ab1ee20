"""A second process for a large list's per-row work (checking identifiers, sealing, digests),
so that a 100,000-row list uses both of a small machine's cores instead of one.

The process is started with the application (``start``; else at the first list large enough
to be worth it), from a clean interpreter (``spawn``: the gateway's event loop, pools and
threads are not copied into it), and stopped with the application. Work goes to it as
module-level functions and plain values; what comes back is plain values too.

A gateway that is killed (SIGKILL, the OOM killer) cannot stop its helper, and the helper
would never notice: it holds both ends of the pipe its work arrives on, so it waits on it for
ever. It watches its parent instead, and exits when the parent is gone.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

#: rows from which a list's per-row work is shared with the second process (below it, the
#: round trip to the other process costs more than it saves)
SHARE_FROM = 20_000


class Offload:
    """At most ``processes`` helper processes (0: none; work then runs here)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None

    @property
    def enabled(self) -> bool:
        return self._processes > 0

    @property
    def running(self) -> bool:
        """The helper process was started (and has not died since)."""
        return self._pool is not None

    async def start(self, ready: Callable[[], object]) -> None:
        """Start the helper now and run ``ready`` in it, so that the first large list does
        not wait for either."""
        if self.enabled:
            await self.submit(ready)

    def submit(self, function: Callable[..., T], *args: Any) -> Awaitable[T]:
        """Start ``function(*args)`` in the helper process now, to await later (done here at
        once when there is no helper; here too if the helper dies: never lost with it)."""
        if not self.enabled:
            return _here(function, args)
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self._processes, mp_context=context, initializer=exit_with_parent
            )
        future = asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        return self._or_here(future, function, args)

    async def _or_here(
        self, future: asyncio.Future[T], function: Callable[..., T], args: tuple[Any, ...]
    ) -> T:
        try:
            return await future
        except BrokenProcessPool:
            self._pool = None
            return function(*args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def exit_with_parent() -> None:
    """In a helper process: exit as soon as the process that started it has ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel  # readable once the parent has ended

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)  # nothing of the helper's is worth finishing: its work went with it

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


async def _here(function: Callable[..., T], args: tuple[Any, ...]) -> T:
    return function(*args)
