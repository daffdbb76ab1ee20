"""Background loops that never silently die: a loop that ends or crashes is logged and
started again after a short, growing pause."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("gateway.supervise")

#: first and longest pause before a crashed loop runs again
FIRST_PAUSE, LONGEST_PAUSE = 0.1, 5.0


async def supervised(name: str, loop: Callable[[], Awaitable[None]]) -> None:
    """Run ``loop`` for ever; only cancellation stops it."""
    pause = FIRST_PAUSE
    while True:
        try:
            await loop()
            log.error("loop_ended", loop=name)  # a loop is never meant to return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("loop_crashed", loop=name)
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


def spawn(name: str, loop: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(supervised(name, loop), name=name)
