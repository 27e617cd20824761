"""wait_within: results, timeouts, and a caller's cancellation that is never lost."""
import asyncio

import pytest

from iso15118_ev.waiting import wait_within


def test_result_and_timeout():
    async def main():
        assert await wait_within(asyncio.sleep(0.01, 'done'), 1.0) == 'done'
        pending = asyncio.Event()
        with pytest.raises(asyncio.TimeoutError):
            await wait_within(pending.wait(), 0.05)
    asyncio.run(main())


def test_a_cancellation_in_the_same_turn_as_the_result_is_not_lost():
    """The case Python 3.11's wait_for gets wrong: the awaited event is set and the caller is
    cancelled in one loop turn (a CP change that also aborts the session)."""
    async def main():
        changed = asyncio.Event()
        caller = asyncio.ensure_future(wait_within(changed.wait(), 5.0))
        await asyncio.sleep(0.01)
        changed.set()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
    asyncio.run(main())


def test_cancelling_the_caller_cancels_what_it_waits_for():
    async def main():
        inner = asyncio.ensure_future(asyncio.sleep(10))
        caller = asyncio.ensure_future(wait_within(inner, None))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        await asyncio.sleep(0)
        assert inner.cancelled()
    asyncio.run(main())
