"""Synthetic homes for tests and benchmarks: daily load with morning and evening peaks,
PV on a clear-sky sine, heteroscedastic forecast spread (larger while the sun is up)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from meanfield.energy import GameSpec, HomeType, PriceLaw
from meanfield.solver import Floats


@dataclass(frozen=True)
class Home:
    capacity_kwh: float
    power_kw: float
    pv_kwp: float
    mean_kw: Floats
    std_kw: Floats
    soc: float       # 0..1


def hours(steps: int, dt_h: float = 0.25) -> Floats:
    out: Floats = (np.arange(steps, dtype=np.float64) * dt_h) % 24
    return out


def profile(steps: int, load_kw: float, pv_kwp: float, dt_h: float = 0.25,
            ) -> tuple[Floats, Floats]:
    t = hours(steps, dt_h)
    load = load_kw * (0.6 + 1.2 * np.exp(-((t - 19.0) ** 2) / 4.0)
                      + 0.6 * np.exp(-((t - 7.5) ** 2) / 2.0))
    sun = np.maximum(0.0, np.sin((t - 6.0) / 12.0 * np.pi))
    mean = load - 0.7 * pv_kwp * sun
    std = 0.1 + 0.2 * load_kw + 0.12 * pv_kwp * sun
    return mean, std


def homes(n: int, steps: int = 96, seed: int = 0) -> list[Home]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        mean, std = profile(steps, float(rng.uniform(0.3, 0.8)), float(rng.uniform(0, 8)))
        out.append(Home(float(rng.choice([5.0, 10.0, 13.5])), float(rng.choice([3.0, 5.0])),
                        0.0, mean, std, float(rng.uniform(0.1, 0.9))))
    return out


def retail(steps: int, dt_h: float = 0.25, base: float = 0.30, peak: float = 0.40) -> Floats:
    t = hours(steps, dt_h)
    out: Floats = np.where((t >= 17) & (t < 21), peak, base)
    return out


def community(types: int = 8, steps: int = 96, points: int = 101, homes_n: float = 1000.0,
              risk_aversion: float = 0.5, dt_h: float = 0.25) -> GameSpec:
    """K types spanning PV size 0..8 kWp, battery 5..15 kWh, load level and risk aversion."""
    grid = np.linspace(0.0, 1.0, points)
    out = []
    for k in range(types):
        f = k / max(1, types - 1)
        mean, std = profile(steps, 0.4 + 0.3 * f, 8.0 * ((k * 5) % types) / max(1, types - 1),
                            dt_h)
        soc0 = np.exp(-0.5 * ((grid - 0.2 - 0.5 * f) / 0.12) ** 2)
        out.append(HomeType(count=1.0 + k % 3, capacity_kwh=5.0 + 10.0 * f, power_kw=5.0,
                            load_mean_kw=mean, load_std_kw=std, soc0=soc0,
                            risk_aversion=risk_aversion * ((k % 4) / 3), wear_per_kwh=0.02))
    law = PriceLaw(retail(steps, dt_h), 0.08, 0.0, 1.0, 3.0, 0.05)
    return GameSpec(tuple(out), law, dt_h=dt_h, homes=homes_n if math.isfinite(homes_n)
                    else math.inf)
