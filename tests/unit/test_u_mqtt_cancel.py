"""A cancellation that asyncio.wait_for (Python 3.11, inside aiomqtt) swallowed is honoured."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from agent.adapters.mqtt import _raise_if_cancel_was_swallowed


async def test_a_swallowed_cancellation_still_stops_the_task() -> None:
    reached_after = False

    async def body() -> None:
        nonlocal reached_after
        # What 3.11's wait_for does when its future completes together with the cancel:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        _raise_if_cancel_was_swallowed()
        reached_after = True

    task = asyncio.create_task(body())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not reached_after


async def test_no_cancellation_requested_goes_on() -> None:
    _raise_if_cancel_was_swallowed()  # nothing requested: returns
