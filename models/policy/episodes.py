"""One simulated day of a community, precomputed for the policy environment.

A `Day` holds what does not depend on the learner's actions: measured net loads of the
homes (`sim.homes`), the shipped forecaster's mean and spread for every decision
(as block means, `agent.domain.policy_obs.BLOCKS`), and the coordinator's mean-field
signal (`coordinator.game.solve_reports`, its default settings) re-solved every
`signal_every` intervals from the homes' reports. Between solves the reported SoCs come
from a reference run of the community in which every home follows the game's equilibrium
policy (the expected battery power of its type at its SoC); that run's expected power
table is kept when `keep_equilibrium` is set, for the evaluation's equilibrium baseline.

Each home is a price taker: one home's choices do not move the signal (the mean-field
limit the coordinator's game also assumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import FORECAST_HISTORY, OnnxForecaster
from agent.domain.policy_obs import block_means
from agent.domain.units import MSAT_PER_BTC, Tariff
from coordinator.game import GameConfig, Outcome, Report, solve_reports
from sim.data import Dataset
from sim.engine import Community
from sim.homes import Homes, build_homes
from sim.scenario import Scenario

Floats = npt.NDArray[np.float64]
INTERVAL_S = 900
STEPS = 96


@dataclass(frozen=True)
class Equilibrium:
    """The game's policy as expected battery power (W) per solve, step, type, SoC point."""

    solve_at: npt.NDArray[np.int64]   # (J,) step of each solve within the day
    power_w: Floats                   # (J, H, K, M)
    home_type: npt.NDArray[np.int64]  # (J, N) type index of each home in each solve

    def action_w(self, step: int, soc_pct: Floats,
                 homes: npt.NDArray[np.int64] | None = None) -> Floats:
        """Expected power of each home (of `homes`, default all) at its SoC."""
        j = int(np.searchsorted(self.solve_at, step, side="right") - 1)
        table = self.power_w[j, step - int(self.solve_at[j])]          # (K, M)
        m = table.shape[1]
        pos = np.clip(soc_pct, 0.0, 100.0) / 100.0 * (m - 1)
        lo = np.minimum(np.floor(pos).astype(np.int64), m - 1)
        hi = np.minimum(lo + 1, m - 1)
        k = self.home_type[j] if homes is None else self.home_type[j][homes]
        frac = pos - lo
        out: Floats = (1 - frac) * table[k, lo] + frac * table[k, hi]
        return out


@dataclass(frozen=True)
class Day:
    homes: Homes
    tariff: Tariff
    eur_per_msat: float
    net_kw: Floats        # (N, S) measured net load of each simulated interval
    fc_mean: Floats       # (S, N, 4) forecast block means for each decision
    fc_std: Floats        # (S, N, 4)
    prices: list[Floats]  # S paths ahead, msat/kWh (the signal from the decided step on)
    meanfield: list[Floats]  # S paths ahead, equilibrium net load per home, kW
    retail: Floats        # (S,) msat/kWh
    hour: Floats          # (S,) hour of day of each interval
    ratio: Floats         # (S,) community demand / supply in the reference run
    equilibrium: Equilibrium | None

    @property
    def n(self) -> int:
        return self.homes.n


def tariff_of(scenario: Scenario) -> tuple[Tariff, float]:
    t = scenario.tariff
    eur = t.eur_per_btc / MSAT_PER_BTC
    return (Tariff(round(t.retail_eur_per_kwh / eur), round(t.peak_retail_eur_per_kwh / eur),
                   round(t.feed_in_eur_per_kwh / eur), t.peak_hours), eur)


def _type_index(h: Homes, soc_pct: Floats, k: int) -> npt.NDArray[np.int64]:
    """The type each home falls in, as `coordinator.game.types_of` orders reports."""
    order = np.lexsort((h.risk_aversion, h.pv_kwp, h.max_power_w, h.capacity_wh))
    bounds = np.linspace(0, h.n, k + 1).round().astype(int)
    out = np.empty(h.n, dtype=np.int64)
    for i in range(k):
        out[order[bounds[i]:bounds[i + 1]]] = i
    return out


def _expected_power(outcome: Outcome) -> Floats:
    """(H, K, M) expected battery power in W from the policy (H, K, A, M)."""
    pi = outcome.solution.policy
    power = outcome.game.power                                      # (K, A) kW, + charge
    out: Floats = np.einsum("hkam,ka->hkm", pi, power) * 1000.0
    return out


def build_day(scenario: Scenario, data: Dataset, day: date, homes: int, seed: int,
              forecaster: OnnxForecaster, game: GameConfig, signal_every: int = 16,
              keep_equilibrium: bool = False) -> Day:
    h = build_homes(scenario.model_copy(update={"start_day": day}), data, homes, 1, seed)
    tariff, eur = tariff_of(scenario)
    com = Community(h, tariff, INTERVAL_S)
    lead = h.lead_steps
    feed = tariff.feed_in_msat_per_kwh
    means, stds = np.zeros((STEPS, h.n, 4)), np.zeros((STEPS, h.n, 4))
    prices: list[Floats] = []
    fields: list[Floats] = []
    ratio = np.zeros(STEPS)
    solves: list[int] = []
    tables: list[Floats] = []
    types: list[npt.NDArray[np.int64]] = []
    sig_p: Floats = np.zeros(0)
    sig_z: Floats = np.zeros(0)
    warm: Floats | None = None
    for s in range(STEPS):
        d = lead + s
        hist = h.net_kw[:, d - 1 - FORECAST_HISTORY:d - 1].astype(np.float32)
        fc = forecaster.forecast_many(hist, h.first_step_s + d * INTERVAL_S)
        mean, std = fc.mean_kw.astype(np.float64), fc.std_kw.astype(np.float64)
        means[s], stds[s] = block_means(mean), block_means(std)
        if s % signal_every == 0:
            soc = com.batteries.soc_pct
            reports = [Report(float(soc[i]), float(h.capacity_wh[i]), float(h.max_power_w[i]),
                              mean[i], std[i], float(h.risk_aversion[i]), float(h.pv_kwp[i]))
                       for i in range(h.n)]
            retail = np.array([com.retail(d + i) for i in range(mean.shape[1])], dtype=float)
            out = solve_reports(reports, retail * eur, feed * eur, game, warm)
            warm = np.concatenate([out.per_home_kw[signal_every:-1],
                                   np.full(signal_every, out.per_home_kw[-2]), [0.0]])
            sig_p = np.clip(np.rint(out.price / eur), feed, retail)
            sig_z = out.per_home_kw[:-1]
            solves.append(s)
            tables.append(_expected_power(out))
            types.append(_type_index(h, soc, len(out.game.spec.types)))
        off = s - solves[-1]
        prices.append(sig_p[off:])
        fields.append(sig_z[off:])
        last = Equilibrium(np.array(solves[-1:]), tables[-1][None], types[-1][None])
        want = last.action_w(s, com.batteries.soc_pct)
        power = com.batteries.step(want, INTERVAL_S)
        net = h.net_kw[:, d] + power / 1000.0
        supply, demand = np.maximum(-net, 0).sum(), np.maximum(net, 0).sum()
        ratio[s] = demand / supply if supply > 1e-9 else np.inf
    hours = np.asarray(((h.first_step_s + (lead + np.arange(STEPS)) * INTERVAL_S) % 86400)
                       / 3600.0, dtype=np.float64)
    eq = Equilibrium(np.array(solves), np.stack(tables), np.stack(types))
    return Day(h, tariff, eur, h.net_kw[:, lead:lead + STEPS], means, stds, prices, fields,
               np.array([com.retail(lead + s) for s in range(STEPS)], dtype=float), hours,
               ratio, eq if keep_equilibrium else None)
