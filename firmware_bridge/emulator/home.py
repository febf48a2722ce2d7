"""A synthetic home: household load, rooftop PV and a battery, as reproducible functions of time.

SYNTHETIC DATA. The load and PV shapes below are invented to be plausible, not measured: a
household load with a night base, morning and evening peaks, day-to-day variation and
per-minute noise; PV as a clear-sky daylight bell for a spring day (sunrise 06:00, sunset
18:30, local time = UTC) scaled by kWp, with per-day cloudiness and per-minute
variability. A later issue replaces them with measured data (CityLearn, pvlib, demandlib).

Every random draw is a hash of (seed, stream, slot index), so ``load_w(t)`` and ``pv_w(t)``
are pure functions of t: any process computes the same home. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware_bridge.emulator.battery import Battery

FloatArray = npt.NDArray[np.float64]

SLOT_S = 60.0  # noise is held constant for one slot
DAY_S = 86400.0
SUNRISE_H, SUNSET_H = 6.0, 18.5  # spring, around the equinox
CLEAR_SKY_PEAK = 0.72  # AC peak as a fraction of kWp on a clear spring day
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class HomeParams:
    annual_load_kwh: float = 4000.0
    pv_kwp: float = 4.0
    battery_kwh: float = 5.0
    battery_max_w: float = 2500.0
    efficiency: float = 0.9  # battery round trip
    initial_soc_pct: float = 50.0


def _splitmix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def uniform_noise(seed: int, stream: int, index: npt.NDArray[np.int64]) -> FloatArray:
    """Uniform [0, 1) draws that depend only on (seed, stream, index)."""
    key = (seed * 0x632BE59BD9B4E019 + stream * 0x85EBCA77C2B2AE63 + 1) & _MASK
    with np.errstate(over="ignore"):
        x = index.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key)
    return (_splitmix(x) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def normal_noise(seed: int, stream: int, index: npt.NDArray[np.int64]) -> FloatArray:
    u1 = uniform_noise(seed, stream, index)
    u2 = uniform_noise(seed, stream + 1000, index)
    result: FloatArray = np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * math.pi * u2)
    return result


def _bump(hour: FloatArray, centre_h: float, width_h: float) -> FloatArray:
    result: FloatArray = np.exp(-0.5 * ((hour - centre_h) / width_h) ** 2)
    return result


def _daily_shape(hour: FloatArray) -> FloatArray:
    return (0.45 + 0.55 * _bump(hour, 7.5, 1.0) + 0.3 * _bump(hour, 12.5, 1.5)
            + 1.1 * _bump(hour, 19.0, 1.8))


_SHAPE_MEAN = float(np.mean(_daily_shape(np.arange(1440) / 60.0)))
_SPIKE_P, _SPIKE_SIZE = 0.02, 5.0  # appliance spikes: probability per slot, size x mean


def _slots(t_s: FloatArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]:
    """Slot index, day index and slot start time: values are constant within a slot."""
    slot = np.floor(np.asarray(t_s, dtype=np.float64) / SLOT_S).astype(np.int64)
    start: FloatArray = slot.astype(np.float64) * SLOT_S
    return slot, np.floor(start / DAY_S).astype(np.int64), start


class HomeProfile:
    """Load and PV power of one synthetic home, deterministic in (params, seed, t).

    Both are constant within each 1-minute slot, so integrating them is exact per slot.
    """

    def __init__(self, params: HomeParams, seed: int) -> None:
        self.params = params
        self.seed = seed
        self.mean_load_w = params.annual_load_kwh * 1000.0 / 8760.0

    def loads_w(self, t_s: FloatArray) -> FloatArray:
        slot, day, t = _slots(t_s)
        hour = (t % DAY_S) / 3600.0
        day_factor = np.clip(1.0 + 0.12 * normal_noise(self.seed, 1, day), 0.75, 1.3)
        slot_factor = np.exp(0.3 * normal_noise(self.seed, 2, slot) - 0.045)
        base = (1.0 - _SPIKE_P * _SPIKE_SIZE) * self.mean_load_w * _daily_shape(hour) / _SHAPE_MEAN
        spike_u = uniform_noise(self.seed, 4, slot)
        spikes = np.where(
            spike_u < _SPIKE_P, _SPIKE_SIZE * self.mean_load_w * (0.7 + 0.6 * spike_u / _SPIKE_P),
            0.0,
        )
        result: FloatArray = np.maximum(30.0, base * day_factor * slot_factor + spikes)
        return result

    def pvs_w(self, t_s: FloatArray) -> FloatArray:
        slot, day, t = _slots(t_s)
        x = ((t % DAY_S) / 3600.0 - SUNRISE_H) / (SUNSET_H - SUNRISE_H)
        clear = np.where((x > 0) & (x < 1), np.sin(math.pi * np.clip(x, 0, 1)) ** 1.3, 0.0)
        cloudiness = uniform_noise(self.seed, 5, day) ** 1.5  # most days fairly sunny
        passing = 1.0 - cloudiness * 0.6 * uniform_noise(self.seed, 6, slot)
        peak_w = CLEAR_SKY_PEAK * self.params.pv_kwp * 1000.0
        result: FloatArray = peak_w * clear * (1.0 - 0.7 * cloudiness) * passing
        return result

    def load_w(self, t_s: float) -> float:
        return float(self.loads_w(np.array([t_s]))[0])

    def pv_w(self, t_s: float) -> float:
        return float(self.pvs_w(np.array([t_s]))[0])


def make_battery(params: HomeParams) -> Battery:
    capacity_wh = params.battery_kwh * 1000.0
    return Battery(capacity_wh, params.battery_max_w, params.efficiency,
                   capacity_wh * params.initial_soc_pct / 100.0)


def self_consumption_baseline(
    params: HomeParams, seed: int, start_s: float, n_intervals: int,
    interval_s: float = 900.0, step_s: float = 60.0,
) -> dict[str, FloatArray]:
    """The home without peerwatt: its battery follows its own surplus/deficit, no trading.

    Returns per-interval arrays (Wh): load_wh, pv_wh, battery_wh (+ charge), import_wh,
    export_wh, and soc_pct at the end of each interval. Per interval,
    ``load - pv + battery == import - export``.
    """
    per = round(interval_s / step_s)
    if per < 1 or not math.isclose(per * step_s, interval_s):
        raise ValueError(f"interval_s {interval_s} is not a multiple of step_s {step_s}")
    profile = HomeProfile(params, seed)
    t = start_s + np.arange(n_intervals * per, dtype=np.float64) * step_s
    load, pv = profile.loads_w(t), profile.pvs_w(t)
    battery = make_battery(params)
    batt = np.empty_like(load)
    soc = np.empty_like(load)
    for i in range(len(t)):
        batt[i] = battery.step(float(pv[i] - load[i]), step_s)
        soc[i] = battery.soc_pct
    grid = load - pv + batt
    hours = step_s / 3600.0

    def per_interval(power_w: FloatArray) -> FloatArray:
        result: FloatArray = (power_w * hours).reshape(n_intervals, per).sum(axis=1)
        return result

    return {
        "load_wh": per_interval(load),
        "pv_wh": per_interval(pv),
        "battery_wh": per_interval(batt),
        "import_wh": per_interval(np.maximum(grid, 0.0)),
        "export_wh": per_interval(np.maximum(-grid, 0.0)),
        "soc_pct": soc.reshape(n_intervals, per)[:, -1].copy(),
    }


class EmulatedHome:
    """One home running in (possibly simulated) time: flows, counters and a remote setpoint.

    ``advance(now_s)`` integrates from the last time to ``now_s`` in steps that end on slot
    boundaries, so the result does not depend on how often it is called. The battery follows
    the last written setpoint; when none was written for ``setpoint_timeout_s`` it reverts
    to self-consumption, like a real inverter's remote-control timeout.
    """

    def __init__(
        self, params: HomeParams, seed: int, *, start_s: float,
        setpoint_timeout_s: float = 1800.0,
    ) -> None:
        self.params = params
        self.profile = HomeProfile(params, seed)
        self.battery = make_battery(params)
        self.setpoint_timeout_s = setpoint_timeout_s
        self.now_s = start_s
        self.import_wh = 0.0
        self.export_wh = 0.0
        self.pv_wh = 0.0  # PV generation since start
        self.setpoint_w = 0.0
        self.grid_setpoint_w = 0.0
        self.grid_mode = False  # the last write was a grid target, not a battery power
        self.setpoint_at_s: float | None = None
        self.load_w = self.profile.load_w(start_s)
        self.pv_w = self.profile.pv_w(start_s)
        self.battery_w = 0.0

    @property
    def grid_w(self) -> float:
        return self.load_w - self.pv_w + self.battery_w

    def remote_control(self, t_s: float) -> bool:
        """True while the last written setpoint is still in force at ``t_s``."""
        if self.setpoint_at_s is None:
            return False
        return t_s - self.setpoint_at_s <= self.setpoint_timeout_s

    def write_setpoint(self, power_w: float, now_s: float) -> None:
        self.advance(now_s)
        self.setpoint_w = power_w
        self.grid_mode = False
        self.setpoint_at_s = max(now_s, self.now_s)

    def write_grid_setpoint(self, power_w: float, now_s: float) -> None:
        """Hold the grid exchange at ``power_w`` (+ import) with the battery from now on."""
        self.advance(now_s)
        self.grid_setpoint_w = power_w
        self.grid_mode = True
        self.setpoint_at_s = max(now_s, self.now_s)

    def advance(self, now_s: float) -> None:
        while self.now_s < now_s:
            slot_end_s = (math.floor(self.now_s / SLOT_S) + 1) * SLOT_S
            end_s = min(now_s, slot_end_s)
            self._step(self.now_s, end_s - self.now_s)
            self.now_s = end_s

    def _step(self, t_s: float, dt_s: float) -> None:
        self.load_w = self.profile.load_w(t_s)
        self.pv_w = self.profile.pv_w(t_s)
        alone_w = self.pv_w - self.load_w
        if not self.remote_control(t_s):
            target_w = alone_w
        elif self.grid_mode:
            target_w = self.grid_setpoint_w + alone_w
        else:
            target_w = self.setpoint_w
        self.battery_w = self.battery.step(target_w, dt_s)
        grid_wh = self.grid_w * dt_s / 3600.0
        self.pv_wh += self.pv_w * dt_s / 3600.0
        if grid_wh > 0:
            self.import_wh += grid_wh
        else:
            self.export_wh -= grid_wh

    def values(self) -> dict[str, float]:
        """Current readings, keyed by meaning (see ``firmware_bridge.measurement.MEANINGS``)."""
        return {
            "grid_power_w": self.grid_w,
            "pv_power_w": self.pv_w,
            "load_power_w": self.load_w,
            "battery_power_w": self.battery_w,
            "battery_soc_pct": self.battery.soc_pct,
            "import_energy_wh": self.import_wh,
            "export_energy_wh": self.export_wh,
            "battery_setpoint_w": self.setpoint_w,
            "grid_setpoint_w": self.grid_setpoint_w,
        }
