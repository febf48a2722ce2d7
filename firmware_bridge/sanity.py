"""Plausibility checks on decoded values: physical range, SoC bounds, counters that only grow.

A rejected value is dropped from the reading and counted; the first rejection of a meaning
is logged at WARNING, repeats at DEBUG until the value is accepted again.
"""

from __future__ import annotations

import math

import structlog

from firmware_bridge.health import DeviceStats
from firmware_bridge.measurement import MEANINGS
from firmware_bridge.profile import RegisterSpec

log = structlog.get_logger(__name__)

# Cumulative energy counters (unit Wh) must never go backwards.
COUNTER_MEANINGS = frozenset(m for m, unit in MEANINGS.items() if unit == "Wh")
# After this many consecutive backward readings the counter is taken as reset (meter swap).
COUNTER_RESET_AFTER = 3


class SanityFilter:
    def __init__(self, label: str, stats: DeviceStats) -> None:
        self._label = label
        self._stats = stats
        self._last_counter: dict[str, float] = {}
        self._backward_runs: dict[str, int] = {}
        self._rejecting: set[str] = set()

    def accept(self, reg: RegisterSpec, value: float) -> bool:
        """True when ``value`` is plausible for ``reg``; otherwise count and log it."""
        return self.accept_value(reg.meaning, value, reg.min, reg.max, reg.address)

    def accept_value(
        self, meaning: str, value: float, low: float | None, high: float | None, address: int
    ) -> bool:
        """True when ``value`` is plausible for ``meaning`` within [low, high]."""
        reason = self._problem(meaning, value, low, high)
        if reason is None:
            if meaning in COUNTER_MEANINGS:
                self._last_counter[meaning] = value
                self._backward_runs.pop(meaning, None)
            if meaning in self._rejecting:
                self._rejecting.discard(meaning)
                log.info("device_value_accepted_again", device=self._label, meaning=meaning)
            return True
        self._stats.rejected_values += 1
        level = log.debug if meaning in self._rejecting else log.warning
        self._rejecting.add(meaning)
        level("device_value_rejected", device=self._label, meaning=meaning,
              address=address, value=value, reason=reason)
        return False

    def _problem(
        self, meaning: str, value: float, low: float | None, high: float | None
    ) -> str | None:
        if not math.isfinite(value):
            return "not a finite number"
        if low is not None and value < low:
            return f"below min {low}"
        if high is not None and value > high:
            return f"above max {high}"
        if meaning == "battery_soc_pct" and not 0.0 <= value <= 100.0:
            return "state of charge outside 0..100 %"
        if meaning in COUNTER_MEANINGS:
            return self._counter_problem(meaning, value)
        return None

    def _counter_problem(self, meaning: str, value: float) -> str | None:
        last = self._last_counter.get(meaning)
        if last is None or value >= last:
            return None
        run = self._backward_runs.get(meaning, 0) + 1
        self._backward_runs[meaning] = run
        if run >= COUNTER_RESET_AFTER:
            log.warning("energy_counter_reset", device=self._label, meaning=meaning,
                        previous=last, value=value)
            return None
        return f"counter went backwards from {last}"
