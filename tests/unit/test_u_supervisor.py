"""The supervision tree: restart on crash, stop the tree on a permanent error, drain then
cancel on stop, and a stack dump when a stop hangs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from agent.ports import PermanentError
from agent.supervisor import Child, ChildStats, FatalError, supervise


async def test_a_crashing_child_restarts_and_others_keep_running() -> None:
    runs = 0
    ticks = 0
    stop = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("boom")
        stop.set()

    async def steady() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    stats = ChildStats()
    async with asyncio.timeout(20):
        await supervise([Child("flaky", flaky), Child("steady", steady)], stop, stats=stats)
    assert runs == 3
    assert stats.restarts == {"flaky": 2}
    assert ticks > 0


async def test_a_permanent_error_stops_the_whole_tree() -> None:
    cancelled = asyncio.Event()

    async def broken() -> None:
        raise PermanentError("bad config")

    async def other() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    with pytest.raises(FatalError) as info:
        async with asyncio.timeout(5):
            await supervise([Child("broken", broken), Child("other", other)], asyncio.Event())
    assert info.value.child == "broken"
    assert cancelled.is_set()


async def test_stop_drains_first_then_cancels() -> None:
    order: list[str] = []
    stop = asyncio.Event()

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            order.append("cancelled")

    async def drain() -> None:
        await asyncio.sleep(0.05)
        order.append("drained")

    stop.set()
    async with asyncio.timeout(5):
        await supervise([Child("worker", worker)], stop, drain=drain)
    assert order == ["drained", "cancelled"]


async def test_a_drain_that_hangs_is_cut_at_its_timeout() -> None:
    stop = asyncio.Event()
    stop.set()

    async def stuck_drain() -> None:
        await asyncio.sleep(3600)

    async def worker() -> None:
        await asyncio.sleep(3600)

    async with asyncio.timeout(5):
        await supervise([Child("worker", worker)], stop, drain=stuck_drain,
                        drain_timeout_s=0.1)


def test_a_stop_that_hangs_dumps_every_stack_to_stderr() -> None:
    """SIGTERM, then a blocked event loop: faulthandler (its own thread) still reports
    where the process is stuck, so a hung stop in CI or on a gateway can be diagnosed.

    The child blocks until this test has seen the dump (its stdin closes), not for a fixed
    time; the dump is due 1 s after SIGTERM, while the child is blocked."""
    code = textwrap.dedent("""
        import asyncio, os, signal, sys
        from agent.supervisor import install_signal_handlers

        def stuck_in_a_blocking_call() -> None:
            sys.stdin.read()  # blocks the loop until the parent closes our stdin

        async def main() -> None:
            stop = asyncio.Event()
            install_signal_handlers(stop, stall_dump_s=1.0)
            os.kill(os.getpid(), signal.SIGTERM)
            await stop.wait()
            stuck_in_a_blocking_call()

        asyncio.run(main())
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    assert proc.stderr is not None
    seen: list[str] = []
    dumped = threading.Event()

    def read() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            seen.append(line)
            # The dump is complete at its outermost frame; only then may the child go on
            # (its exit racing faulthandler's writing thread can crash the interpreter).
            if "in <module>" in line and any("stuck_in_a_blocking_call" in s for s in seen):
                dumped.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert dumped.wait(60), "".join(seen)  # the deadline only fails a hung run
    finally:
        proc.stdin.close()
        proc.wait(60)
        reader.join(10)
    assert proc.returncode == 0, "".join(seen)


async def test_a_child_that_swallows_its_cancellation_is_cancelled_again(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A library that eats a CancelledError below a child (seen in CI as an agent that
    never stopped) must not hang the stop: the child is cancelled again, and the log says
    where it was waiting."""
    stop = asyncio.Event()
    swallowed = 0

    async def wait_in_a_leaky_library() -> None:
        nonlocal swallowed
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed += 1  # the bug being survived: one cancellation is dropped

    async def leaky() -> None:
        while True:
            await wait_in_a_leaky_library()

    async def trigger() -> None:
        await asyncio.sleep(0.05)
        stop.set()

    async with asyncio.timeout(20):
        await supervise([Child("leaky", leaky), Child("trigger", trigger)], stop)
    assert swallowed == 1
    out = capsys.readouterr().out
    assert "child_ignored_cancellation" in out
    assert "wait_in_a_leaky_library" in out
