"""Evaluate policies on held-out days and homes in the policy environment.

Every home of each held-out community day runs the same controller; per-home metrics
(cost, revenue, fairness) are over the homes on buildings no policy trained on
(`HELD_OUT_BUILDINGS`), the community peak over all homes. Controllers:

- `rl`: the shipped-style ONNX policy (trained with forecast spreads) through `OnnxPolicy`;
- `rl_deterministic`: the same training on forecast means only (spread 0 in its
  observation and in the offer's margin);
- `equilibrium`: the coordinator's game policy — each home's expected battery power of its
  type at its SoC from the last solve — and the band's mid price position;
- `self_consumption`: the battery covers the forecast surplus/deficit, mid position;
- `no_trading` (reference for peak and fairness): the battery follows the actual net
  load, no market.

Cost = grid bill + payments − receipts − stored energy change at the feed-in price (€
per home-day). Confidence intervals: 95 % bootstrap (scipy.stats.bootstrap, BCa) over
evaluation units, one unit = one (seed, day) community; RL variants trained with that
seed are evaluated on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from agent.adapters.onnx import OnnxPolicy
from models.policy.core import DT_H, Core, EnvConfig
from models.policy.episodes import INTERVAL_S, STEPS, Day
from sim.metrics import jain
from sim.physics import Batteries, grid_cost_msat, self_consumption_setpoint

Floats = npt.NDArray[np.float64]
# (core, obs) → (wanted battery power W, price position in [0, 1]), each (n,)
Controller = Callable[[Core, npt.NDArray[np.float32]], tuple[Floats, Floats]]


@dataclass
class Episode:
    cost_eur: Floats      # (n,) per home
    revenue_eur: Floats   # (n,)
    import_kw: Floats     # (S,) community
    trade_price: list[float]


def onnx_controller(policy: OnnxPolicy) -> Controller:
    def act(core: Core, obs: npt.NDArray[np.float32]) -> tuple[Floats, Floats]:
        out = policy.act_many(obs).astype(np.float64)
        return out[:, 0], out[:, 1]
    return act


def equilibrium(core: Core, obs: npt.NDArray[np.float32]) -> tuple[Floats, Floats]:
    eq = core.day.equilibrium
    if eq is None:
        raise ValueError("day built without keep_equilibrium")
    return (eq.action_w(core.step_no, core.batteries.soc_pct, core.idx),
            np.full(core.n, 0.5))


def self_consumption(core: Core, obs: npt.NDArray[np.float32]) -> tuple[Floats, Floats]:
    return core.wanted_w(np.zeros(core.n)), np.full(core.n, 0.5)


def run(day: Day, controller: Controller, cfg: EnvConfig, seed: int) -> Episode:
    core = Core(day, np.arange(day.n), cfg, np.random.default_rng(seed))
    obs = core.reset(day.homes.soc0_pct.copy())
    cost, revenue = np.zeros(day.n), np.zeros(day.n)
    imports, prices = np.zeros(STEPS), []
    done = False
    while not done:
        s = core.step_no
        _, done, out = core.step_power(*controller(core, obs))
        obs = core.observe()
        cost += out.cost_msat
        revenue += out.revenue_msat
        imports[s] = out.grid_w.sum() / 1000.0
        sold = out.sold_wh.sum()
        if sold > 0:
            prices.append(float((out.sold_wh * out.price_msat).sum() / sold))
    cost -= day.tariff.feed_in_msat_per_kwh * (core.batteries.stored_wh - core.stored0) / 1000.0
    e = day.eur_per_msat
    return Episode(cost * e, revenue * e, imports, [p * e for p in prices])


def no_trading(day: Day) -> Episode:
    b = Batteries.of(day.homes)
    stored0 = b.stored_wh.copy()
    cost, imports = np.zeros(day.n), np.zeros(STEPS)
    for s in range(STEPS):
        power = b.step(self_consumption_setpoint(day.net_kw[:, s]), INTERVAL_S)
        grid = (day.net_kw[:, s] * 1000.0 + power) * DT_H
        cost += grid_cost_msat(grid, day.retail[s], day.tariff.feed_in_msat_per_kwh)
        imports[s] = grid.sum() / 1000.0 / DT_H
    cost -= day.tariff.feed_in_msat_per_kwh * (b.stored_wh - stored0) / 1000.0
    return Episode(cost * day.eur_per_msat, np.zeros(day.n), imports, [])


def unit_metrics(ep: Episode, ref: Episode, held: npt.NDArray[np.int64]) -> dict[str, float]:
    saving = ref.cost_eur[held] - ep.cost_eur[held]
    p = np.asarray(ep.trade_price)
    peak_ref = float(ref.import_kw.max())
    return {
        "cost_eur": float(ep.cost_eur[held].mean()),
        "revenue_eur": float(ep.revenue_eur[held].mean()),
        "peak_reduction_pct": 100.0 * (1.0 - float(ep.import_kw.max()) / peak_ref)
        if peak_ref > 0 else 0.0,
        "price_volatility": float(p.std() / p.mean()) if p.size > 1 and p.mean() > 0
        else 0.0,
        "jain_fairness": jain(np.maximum(saving, 0.0)) or 0.0,
    }


def ci(values: list[float], seed: int = 0) -> dict[str, Any]:
    v = np.asarray(values, dtype=np.float64)
    out: dict[str, Any] = {"mean": round(float(v.mean()), 5), "n": int(v.size)}
    if v.size < 3 or float(np.ptp(v)) == 0.0:
        out["ci95"] = [round(float(v.mean()), 5)] * 2
        return out
    res = stats.bootstrap((v,), np.mean, confidence_level=0.95, n_resamples=5000,
                          method="BCa", random_state=np.random.default_rng(seed))
    out["ci95"] = [round(float(res.confidence_interval.low), 5),
                   round(float(res.confidence_interval.high), 5)]
    return out
