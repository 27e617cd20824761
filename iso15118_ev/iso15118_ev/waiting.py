"""`wait_within`: asyncio.wait_for that never loses the caller's cancellation.

On Python 3.11, when the caller of `asyncio.wait_for` is cancelled in the same loop turn as the
awaited thing completes, wait_for returns the result and the cancellation is gone (fixed by
3.12's rewrite). The EV cancels its session task to abort, on CP E/F, on unplug and on a stop
during discovery, often just as a frame or a pilot change arrives: a lost cancellation there
leaves a session running that should have ended.
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Optional, TypeVar

T = TypeVar('T')


async def wait_within(awaitable: Awaitable[T], timeout: Optional[float]) -> T:
    """The result of `awaitable`, or asyncio.TimeoutError after `timeout` s (None: no limit);
    a cancellation of the caller always propagates (and cancels `awaitable`)."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except BaseException:
        task.cancel()
        raise
    if task in done:
        return task.result()
    task.cancel()
    raise asyncio.TimeoutError
