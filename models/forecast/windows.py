"""Train / validation / test periods and the (history, calendar, target) windows.

Hourly CityLearn values are spread evenly over their four 15-minute steps (the hourly
energy is all the data has). A forecast issued for step i (its first forecast step) sees
`history` = the 96 steps ending one step before i — the daemon decides for interval k+1
at the start of interval k, when k−1 is the last completed interval — and `calendar(t_i)`.
Targets are steps i … i+95. Windows whose target lies in a period belong to it; their
history may reach back into the previous period (the past is known at issue time).
"""

from __future__ import annotations

import calendar as _cal
import time
from dataclasses import dataclass

import numpy as np

from agent.adapters.onnx import FORECAST_HISTORY, calendar
from sim.data import START_S, Dataset

STEP_S = 900
H = 96
GAP = 1  # steps between the last history value and the first forecast step


def _day(y: int, m: int, d: int) -> int:
    return (_cal.timegm((y, m, d, 0, 0, 0)) - START_S) // 86400


@dataclass(frozen=True)
class Split:
    name: str
    train_buildings: tuple[str, ...]
    test_buildings: tuple[str, ...]
    train_days: tuple[int, int]  # [first, end) days from 2016-08-01
    val_days: tuple[int, int]
    test_days: tuple[int, int]
    train_stride: int
    test_stride: int

    def describe(self) -> dict[str, object]:
        def iso(days: tuple[int, int]) -> list[str]:
            return [time.strftime("%Y-%m-%d", time.gmtime(START_S + d * 86400))
                    for d in (days[0], days[1] - 1)]
        return {"split": self.name, "train_buildings": list(self.train_buildings),
                "test_buildings": list(self.test_buildings),
                "unseen_buildings": [b for b in self.test_buildings
                                     if b not in self.train_buildings],
                "train_period": iso(self.train_days), "validation_period": iso(self.val_days),
                "test_period": iso(self.test_days), "resolution": "hourly data, 15-min steps"}


_B = tuple(f"Building_{i}" for i in range(1, 18))
FULL = Split("full", _B[:14], _B, (0, _day(2017, 4, 1)), (_day(2017, 4, 1), _day(2017, 6, 1)),
             (_day(2017, 6, 1), _day(2017, 8, 1)), train_stride=3, test_stride=1)
SLICE_BUILDINGS = ("Building_1", "Building_2", "Building_16")
QUICK = Split("quick", SLICE_BUILDINGS[:2], SLICE_BUILDINGS,
              (_day(2017, 4, 1), _day(2017, 5, 16)), (_day(2017, 5, 16), _day(2017, 6, 1)),
              (_day(2017, 6, 1), _day(2017, 8, 1)), train_stride=4, test_stride=1)


@dataclass(frozen=True)
class Windows:
    history: np.ndarray   # [N, 96] kW
    calendar: np.ndarray  # [N, 25]
    target: np.ndarray    # [N, 96] kW
    t_s: np.ndarray       # [N] start of the first forecast step
    building: np.ndarray  # [N] index into the buildings tuple it was built from

    def __len__(self) -> int:
        return len(self.target)


def steps(net_hourly_kw: np.ndarray) -> np.ndarray:
    return np.repeat(net_hourly_kw, 3600 // STEP_S)


def windows(ds: Dataset, buildings: tuple[str, ...], days: tuple[int, int],
            stride: int) -> Windows:
    hs, cs, ys, ts, bs = [], [], [], [], []
    per_day = 86400 // STEP_S
    for bi, name in enumerate(buildings):
        s = steps(ds.buildings[name].net_kw)
        lo = max(days[0] * per_day, FORECAST_HISTORY + GAP)
        hi = min(days[1] * per_day, len(s)) - H
        idx = np.arange(lo, hi + 1, stride)
        if len(idx) == 0:
            continue
        hist = np.stack([s[i - GAP - FORECAST_HISTORY:i - GAP] for i in idx])
        tgt = np.stack([s[i:i + H] for i in idx])
        ok = np.isfinite(hist).all(axis=1) & np.isfinite(tgt).all(axis=1)
        t = START_S + idx[ok] * STEP_S
        hs.append(hist[ok])
        ys.append(tgt[ok])
        ts.append(t)
        cs.append(np.stack([calendar(float(x)) for x in t]) if len(t) else
                  np.zeros((0, 25), dtype=np.float32))
        bs.append(np.full(int(ok.sum()), bi))
    return Windows(np.concatenate(hs).astype(np.float32), np.concatenate(cs),
                   np.concatenate(ys).astype(np.float32), np.concatenate(ts),
                   np.concatenate(bs))
