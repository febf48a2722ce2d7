"""One asyncio TaskGroup supervision tree.

Each child is a long-running coroutine. A child that raises a `PermanentError` stops
the whole tree (the daemon exits non-zero and systemd decides); any other exception is
logged with its context and the child restarts after a full-jitter backoff. A child
that returns has finished its job. `stop` (set by SIGTERM/SIGINT) first lets the
`drain` callback finish in-flight work, then cancels everything.
"""

from __future__ import annotations

import asyncio
import atexit
import faulthandler
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from agent.ports import PermanentError

log = structlog.get_logger("supervisor")


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    run: Callable[[], Awaitable[None]]
    restart: bool = True


@dataclass
class ChildStats:
    restarts: dict[str, int] = field(default_factory=dict)


class Stopped(Exception):
    """Raised inside the group to cancel it after a clean stop."""


class FatalError(Exception):
    def __init__(self, child: str, error: BaseException) -> None:
        super().__init__(f"{child}: {error}")
        self.child = child
        self.error = error


async def _supervised(child: Child, stats: ChildStats) -> None:
    failures = 0
    while True:
        started = time.monotonic()
        try:
            await child.run()
            log.debug("child_finished", child=child.name)
            return
        except asyncio.CancelledError:
            raise
        except PermanentError as exc:
            log.exception("child_failed_permanently", child=child.name, error=str(exc))
            raise FatalError(child.name, exc) from exc
        except Exception as exc:  # the one place that catches everything
            if not child.restart:
                log.exception("child_failed", child=child.name)
                raise FatalError(child.name, exc) from exc
            failures = 1 if time.monotonic() - started > 60 else failures + 1
            stats.restarts[child.name] = stats.restarts.get(child.name, 0) + 1
            delay = random.uniform(0, min(30.0, 0.5 * 2 ** min(6, failures)))
            log.error("child_crashed", child=child.name, error=repr(exc), restart_in_s=delay,
                      exc_info=True)
            await asyncio.sleep(delay)


_background: set[asyncio.Task[None]] = set()


async def _reap(tasks: list[asyncio.Task[None]], every_s: float = 1.0) -> None:
    """After the group has cancelled its children on a stop: any child still running a
    second later ignored (swallowed) its cancellation somewhere below it. Say where, and
    cancel it again, until every child has finished — so a stop always completes."""
    while True:
        await asyncio.sleep(every_s)
        stuck = [t for t in tasks if not t.done()]
        if not stuck:
            return
        for t in stuck:
            log.warning("child_ignored_cancellation", child=t.get_name(), awaiting=_where(t))
            t.cancel()


def _where(task: asyncio.Task[None]) -> list[str]:
    """The chain of coroutines a suspended task is waiting in, outermost first."""
    out: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            out.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out


async def supervise(children: list[Child], stop: asyncio.Event, *,
                    drain: Callable[[], Awaitable[None]] | None = None,
                    drain_timeout_s: float = 8.0, stats: ChildStats | None = None) -> None:
    """Run until `stop` is set (returns) or a child fails for good (raises FatalError)."""
    stats = stats or ChildStats()

    tasks: list[asyncio.Task[None]] = []

    async def stopper() -> None:
        await stop.wait()
        if drain is not None:
            try:
                async with asyncio.timeout(drain_timeout_s):
                    await drain()
            except TimeoutError:
                log.warning("drain_timed_out", timeout_s=drain_timeout_s)
        reaper = asyncio.get_running_loop().create_task(_reap(tasks), name="reaper")
        _background.add(reaper)
        reaper.add_done_callback(_background.discard)
        raise Stopped

    try:
        async with asyncio.TaskGroup() as tg:
            for child in children:
                tasks.append(tg.create_task(_supervised(child, stats), name=child.name))
            tg.create_task(stopper(), name="stopper")
    except* Stopped:
        log.info("stopped")
    except* FatalError as group:
        raise group.exceptions[0] from None


def install_signal_handlers(stop: asyncio.Event,
                            on_hup: Callable[[], None] | None = None, *,
                            stall_dump_s: float = 15.0) -> None:
    """SIGTERM/SIGINT set `stop`. From then on, should the process still be alive after
    `stall_dump_s` (a child that ignores its cancellation, a blocked event loop), every
    thread's stack goes to stderr so the hang can be diagnosed.
    faulthandler runs in its own C thread, so it works even when the loop is stuck."""
    loop = asyncio.get_running_loop()

    def request_stop() -> None:
        if not stop.is_set():
            # Once, not repeating: a dump racing the interpreter's finalisation can crash it.
            faulthandler.dump_traceback_later(stall_dump_s)
            atexit.register(faulthandler.cancel_dump_traceback_later)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop)
    if on_hup is not None:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
