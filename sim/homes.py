"""Heterogeneous homes drawn from measured data (CityLearn 2022's 17 buildings).

Each simulated home takes one measured building's hourly load, shifted by a whole number
of days (−2…+2) and hours (−1…+1) and scaled, and the same building's measured PV on the
simulated day (one weather for the whole community) scaled per home; its battery and risk
attitude are drawn from its home type's ranges. Hourly values are spread evenly over
their four 15-minute intervals, as the forecaster's training did. All arrays are
(homes, steps) in kW, starting two days before the simulated period (the forecaster's
history) and ending one day after it (the last forecasts' horizon).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from sim.data import Dataset
from sim.scenario import Scenario

Floats = npt.NDArray[np.float64]
STEPS_PER_HOUR = 4
STEPS_PER_DAY = 96
DATA_START = date(2016, 8, 1)   # hour 0 of the CityLearn 2022 files (sim.data)
EFFICIENCY = 0.9                # battery round trip (firmware_bridge.emulator.home.HomeParams)
MIN_SOC_PCT, MAX_SOC_PCT = 5.0, 100.0   # the agent's defaults (agent.settings)
SOC0_PCT = 50.0
LEAD_DAYS = 2                   # forecaster history (one day) and the decisions' lead
BUILDING_KWP = 4.5              # CityLearn 2022's PV systems are 4–5 kWp


@dataclass(frozen=True)
class Homes:
    names: list[str]
    home_type: list[str]
    building: list[str]
    load_kw: Floats          # (N, steps): lead day + simulated days + one day of horizon
    pv_kw: Floats            # (N, steps)
    capacity_wh: Floats      # (N,)
    max_power_w: Floats      # (N,) charge and discharge
    risk_aversion: Floats    # (N,) per €
    pv_kwp: Floats           # (N,) nominal, for the coordinator's type ordering
    soc0_pct: Floats         # (N,)
    first_step_s: float      # simulated time of step 0 (s since 1970, data local time)
    lead_steps: int          # steps before the simulated period (forecaster history)
    steps: int               # simulated steps

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def net_kw(self) -> Floats:
        out: Floats = self.load_kw - self.pv_kw
        return out

    def subset(self, idx: npt.NDArray[np.int64]) -> Homes:
        return Homes([self.names[i] for i in idx], [self.home_type[i] for i in idx],
                     [self.building[i] for i in idx], self.load_kw[idx], self.pv_kw[idx],
                     self.capacity_wh[idx], self.max_power_w[idx], self.risk_aversion[idx],
                     self.pv_kwp[idx], self.soc0_pct[idx], self.first_step_s,
                     self.lead_steps, self.steps)


def _hourly(series: Floats, first_hour: int, hours: int) -> Floats:
    lo, hi = first_hour, first_hour + hours
    if lo < 0 or hi > len(series):
        raise ValueError(f"data covers hours 0..{len(series)}, need {lo}..{hi}")
    out = series[lo:hi]
    if not np.all(np.isfinite(out)):
        raise ValueError(f"data has gaps in hours {lo}..{hi}")
    return out


def build_homes(scenario: Scenario, data: Dataset, n: int, days: int, seed: int) -> Homes:
    rng = np.random.default_rng(seed)
    names = sorted(data.buildings)
    day0 = (scenario.start_day - DATA_START).days
    if day0 < LEAD_DAYS + 3:
        raise ValueError(f"start_day must be after {DATA_START + timedelta(days=LEAD_DAYS + 3)}")
    hours = (days + 3) * 24            # two lead days, simulated days, horizon day
    first_hour = (day0 - LEAD_DAYS) * 24
    shares = np.array([t.share for t in scenario.home_types])
    kinds = rng.choice(len(shares), size=n, p=shares / shares.sum())
    bld = rng.integers(0, len(names), size=n)
    shift_h = rng.integers(-2, 3, size=n) * 24 + rng.integers(-1, 2, size=n)
    load = np.empty((n, hours))
    pv = np.empty((n, hours))
    pv_scale = np.empty(n)
    cap = np.empty(n)
    power = np.empty(n)
    risk = np.empty(n)
    load_scale = np.empty(n)
    for i in range(n):
        t = scenario.home_types[kinds[i]]
        pv_scale[i] = rng.uniform(*t.pv_scale)
        cap[i] = rng.uniform(*t.battery_kwh) * 1000.0
        power[i] = rng.uniform(*t.battery_kw) * 1000.0
        risk[i] = rng.uniform(*t.risk_aversion_per_eur)
        load_scale[i] = rng.uniform(*t.load_scale)
    cache: dict[tuple[int, int], Floats] = {}
    for i in range(n):
        b = data.buildings[names[bld[i]]]
        key = (int(bld[i]), int(shift_h[i]))
        if key not in cache:
            cache[key] = _hourly(b.load_kw, first_hour + key[1], hours)
        load[i] = cache[key] * load_scale[i]
        pv[i] = _hourly(b.pv_kw, first_hour, hours) * pv_scale[i]
    if scenario.battery_penetration is not None:
        has = rng.random(n) < scenario.battery_penetration
        cap = np.where(has, np.where(cap > 0, cap, 5000.0 + 8500.0 * rng.random(n)), 0.0)
        power = np.where(has, np.where(power > 0, power, 2500.0 + 2500.0 * rng.random(n)), 0.0)
    power = np.where(cap > 0, power, 0.0)
    first_s = (DATA_START - date(1970, 1, 1)).days * 86400.0 + first_hour * 3600.0
    return Homes(
        names=[f"home{i:05d}" for i in range(n)],
        home_type=[scenario.home_types[k].name for k in kinds],
        building=[names[b] for b in bld],
        load_kw=np.repeat(load, STEPS_PER_HOUR, axis=1),
        pv_kw=np.repeat(pv, STEPS_PER_HOUR, axis=1),
        capacity_wh=cap, max_power_w=power, risk_aversion=risk,
        pv_kwp=pv_scale * BUILDING_KWP, soc0_pct=np.full(n, SOC0_PCT),
        first_step_s=first_s, lead_steps=LEAD_DAYS * STEPS_PER_DAY, steps=days * STEPS_PER_DAY)
