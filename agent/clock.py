"""Wall and accelerated clocks.

Every process of a simulated community (agents, coordinator, device emulators) builds
the same :class:`AcceleratedClock` from the same three numbers, so they agree on simulated time
without talking to each other: ``sim = start_sim_s + (time.time() - epoch_real_s) * speed``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from agent.settings import ClockSettings


class Clock(Protocol):
    """Unix time in seconds, possibly simulated, and a way to wait for a moment of it."""

    def now_s(self) -> float: ...

    async def sleep_until(self, t_s: float) -> None: ...

    def real_duration_s(self, sim_duration_s: float) -> float: ...


@dataclass(frozen=True, slots=True)
class WallClock:
    def now_s(self) -> float:
        return time.time()

    async def sleep_until(self, t_s: float) -> None:
        await asyncio.sleep(max(0.0, t_s - time.time()))

    def real_duration_s(self, sim_duration_s: float) -> float:
        return sim_duration_s


@dataclass(frozen=True, slots=True)
class AcceleratedClock:
    """Simulated time running ``speed`` times faster than the wall, from a shared epoch."""

    epoch_real_s: float
    start_sim_s: float
    speed: float

    def now_s(self) -> float:
        return self.start_sim_s + (time.time() - self.epoch_real_s) * self.speed

    async def sleep_until(self, t_s: float) -> None:
        await asyncio.sleep(max(0.0, (t_s - self.now_s()) / self.speed))

    def real_duration_s(self, sim_duration_s: float) -> float:
        return sim_duration_s / self.speed


def make_clock(c: ClockSettings) -> Clock:
    """The clock a config asks for: the wall, or the fleet's shared accelerated clock."""
    if c.mode == "wall":
        return WallClock()
    return AcceleratedClock(c.epoch_real_s, c.start_sim_s, c.speed)
