"""Frozen energy counters: a meter whose import/export counter stops while power flows.

A counter that stands still is plausible (no import at night, no export without PV), so a
counter is only called frozen when the grid power read alongside it says it should have
moved by more than ``tolerance_wh`` since it last changed. A frozen counter is left out of
the reading (its old value is stale, not fresh) and counted in
:attr:`DeviceStats.frozen_counters`; it is logged once at WARNING, then at DEBUG until it
moves again.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from firmware_bridge.health import DeviceStats
from firmware_bridge.measurement import Measurement

log = structlog.get_logger(__name__)

# counter meaning -> sign of grid power that makes it grow (+ import, - export)
_DIRECTION = {"import_energy_wh": 1.0, "export_energy_wh": -1.0}


@dataclass(slots=True)
class _Track:
    value: float
    expected_wh: float = 0.0  # energy the grid power says has flowed since `value` changed


class FrozenCounters:
    def __init__(self, label: str, stats: DeviceStats, tolerance_wh: float = 50.0) -> None:
        self._label = label
        self._stats = stats
        self._tolerance_wh = tolerance_wh
        self._tracks: dict[str, _Track] = {}
        self._last_power: Measurement | None = None
        self._frozen: set[str] = set()

    def check(self, readings: dict[str, Measurement]) -> dict[str, Measurement]:
        """Return ``readings`` without the counters that are frozen."""
        power = readings.get("grid_power_w")
        flowed_wh = self._flowed_wh(power)
        if power is not None:
            self._last_power = power
        for meaning, sign in _DIRECTION.items():
            reading = readings.get(meaning)
            if reading is None:
                continue
            if self._is_frozen(meaning, reading.value, sign * flowed_wh):
                del readings[meaning]
        return readings

    def _flowed_wh(self, power: Measurement | None) -> float:
        """Grid energy (+ import) between the last two power readings (trapezoid rule)."""
        last = self._last_power
        if power is None or last is None:
            return 0.0
        dt_s = power.timestamp_s - last.timestamp_s
        if dt_s <= 0:
            return 0.0
        return (power.value + last.value) / 2.0 * dt_s / 3600.0

    def _is_frozen(self, meaning: str, value: float, flowed_wh: float) -> bool:
        track = self._tracks.get(meaning)
        if track is None or value != track.value:
            self._tracks[meaning] = _Track(value)
            if meaning in self._frozen:
                self._frozen.discard(meaning)
                log.info("energy_counter_moving_again", device=self._label, meaning=meaning)
            return False
        track.expected_wh += max(0.0, flowed_wh)
        if track.expected_wh <= self._tolerance_wh:
            return False
        self._stats.frozen_counters += 1
        level = log.debug if meaning in self._frozen else log.warning
        self._frozen.add(meaning)
        level("energy_counter_frozen", device=self._label, meaning=meaning, value=value,
              expected_wh=round(track.expected_wh, 1))
        return True
