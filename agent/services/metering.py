"""Poll the home's device, keep the latest readings, journal one reading per interval and
each closed interval's mean pre-battery net load over all of its polls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import structlog

from agent.adapters.journal import Journal
from agent.clock import Clock
from agent.domain.market import IntervalClock
from agent.ports import DeviceReader, PermanentError
from agent.services.state import AgentState
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.measurement import Measurement

log = structlog.get_logger("metering")


class Metering:
    def __init__(self, device: DeviceReader, state: AgentState, journal: Journal, clock: Clock,
                 intervals: IntervalClock, poll_s: float) -> None:
        self._device = device
        self._state = state
        self._journal = journal
        self._clock = clock
        self._intervals = intervals
        self._poll_s = poll_s
        self._journaled_interval: int | None = None
        self._net_journaled: int | None = None   # the last interval whose mean is journaled
        self.first_read = asyncio.Event()

    async def run(self) -> None:
        failures = 0
        while True:
            began = time.monotonic()
            try:
                values = await self._device.read()
            except DeviceUnavailable as exc:
                self._state.read_seconds.observe(time.monotonic() - began)
                failures += 1
                self._state.counters["device_read_failed"] += 1
                self._state.device_health = "down" if failures >= 3 else "degraded"
                (log.warning if failures == 1 else log.debug)(
                    "device_read_failed", error=str(exc), consecutive=failures)
                # The loop ticks even while the device is down: the watchdog watches the
                # loop (a hang), STATUS shows the device (a restart cannot bring it back).
                self._state.heartbeats["metering"] = time.monotonic()
                await asyncio.sleep(self._poll_s)
                continue
            except DeviceConfigError as exc:
                raise PermanentError(f"device configuration: {exc}") from exc
            self._state.read_seconds.observe(time.monotonic() - began)
            if failures:
                log.info("device_recovered", after_failures=failures)
            failures = 0
            self._state.device_health = "ok"
            self._state.readings.update(values)
            self._state.counters["device_reads"] += 1
            self._record(values)
            self._state.heartbeats["metering"] = time.monotonic()
            self.first_read.set()
            await asyncio.sleep(self._poll_s)

    def _record(self, values: Mapping[str, Measurement]) -> None:
        """Only what this poll read: a value the device's sanity or frozen-counter checks
        dropped is missing here (NULL in the journal), never replaced by an older one."""
        now = self._clock.now_s()
        interval = self._intervals.index(now)
        grid, battery = values.get("grid_power_w"), values.get("battery_power_w")
        done = self._state.current
        if (done is not None and done.interval != interval and done.samples
                and done.interval != self._net_journaled):
            # The closed interval's mean over all its polls: what the rationality guard's
            # alone shadow runs on (one poll per interval let it drift from the battery).
            self._journal.record_interval_net(done.interval, done.total_w / done.samples,
                                              done.samples)
            self._net_journaled = done.interval
        if grid is not None and battery is not None:
            self._state.add_sample(interval, grid.value - battery.value)
        if interval != self._journaled_interval:
            self._journal.record_reading(now, interval,
                                         {k: m.value for k, m in values.items()})
            self._journaled_interval = interval
