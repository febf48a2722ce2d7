"""Home physics for many homes at once: the battery and the meter over one interval.

`battery_step` is `firmware_bridge.emulator.battery.Battery.step` on arrays (same limits, same
one-way efficiency √η on charge and on discharge, same SoC window); a unit test checks
the two agree. Load and PV are constant within an interval here (hourly data spread over
15-minute steps), so one step per interval equals the demo's minute-by-minute stepping
under a constant set-point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.homes import EFFICIENCY, MAX_SOC_PCT, MIN_SOC_PCT, Homes

Floats = npt.NDArray[np.float64]


@dataclass
class Batteries:
    capacity_wh: Floats
    max_power_w: Floats
    soc_wh: Floats
    efficiency: float = EFFICIENCY
    min_soc_pct: float = MIN_SOC_PCT
    max_soc_pct: float = MAX_SOC_PCT

    @classmethod
    def of(cls, homes: Homes) -> Batteries:
        return cls(homes.capacity_wh.copy(), homes.max_power_w.copy(),
                   homes.capacity_wh * homes.soc0_pct / 100.0)

    @property
    def soc_pct(self) -> Floats:
        cap = np.where(self.capacity_wh > 0, self.capacity_wh, 1.0)
        out: Floats = np.where(self.capacity_wh > 0, 100.0 * self.soc_wh / cap, 0.0)
        return out

    @property
    def stored_wh(self) -> Floats:
        """Energy above the SoC floor (what the terminal value counts)."""
        out: Floats = self.soc_wh - self.capacity_wh * self.min_soc_pct / 100.0
        return out

    def step(self, setpoint_w: Floats, dt_s: float) -> Floats:
        """Run each battery at its set-point for `dt_s` as far as its limits allow; return
        the actual AC power (+ charge), as `Battery.step` does for one battery."""
        hours = dt_s / 3600.0
        eta = np.sqrt(self.efficiency)
        has = self.capacity_wh > 0
        p = np.clip(np.nan_to_num(setpoint_w), -self.max_power_w, self.max_power_w)
        max_wh = self.capacity_wh * self.max_soc_pct / 100.0
        min_wh = self.capacity_wh * self.min_soc_pct / 100.0
        room = np.maximum(0.0, max_wh - self.soc_wh)
        avail = np.maximum(0.0, self.soc_wh - min_wh)
        charge = np.minimum(np.maximum(p, 0.0), room / (eta * hours))
        discharge = np.minimum(np.maximum(-p, 0.0), avail * eta / hours)
        power: Floats = np.where(has, np.where(p > 0, charge, -discharge), 0.0)
        self.soc_wh = np.where(
            power > 0, np.minimum(max_wh, self.soc_wh + power * hours * eta),
            np.where(power < 0, np.maximum(min_wh, self.soc_wh + power * hours / eta),
                     self.soc_wh))
        return power


def self_consumption_setpoint(net_kw: Floats) -> Floats:
    """The no-trading control: the battery follows the home's own surplus (+) or deficit."""
    out: Floats = -net_kw * 1000.0
    return out


def grid_cost_msat(residual_wh: Floats, retail_msat_per_kwh: float,
                   feed_in_msat_per_kwh: float) -> Floats:
    """Each home's grid bill for one interval on its residual (+ import) after trades."""
    out: Floats = (retail_msat_per_kwh * np.maximum(residual_wh, 0.0)
                   - feed_in_msat_per_kwh * np.maximum(-residual_wh, 0.0)) / 1000.0
    return out
