"""From the homes' state reports to the community's equilibrium: prices and battery plans.

Pure (numpy and the HiGHS solver, no I/O). Battery homes are sorted by their c-rate
(power per kWh of capacity) and split into at most `types` planning units of at least
`min_type_size` homes; each unit is its homes' batteries added up, so a home that runs at
its unit's power per kWh keeps its unit's state of charge (the unit's schedule scaled to
its capacity is feasible for it). Homes without a battery only add their forecast.

Reports are aggregated robustly, per group of similar homes (battery units, and the other
homes by PV size): the group's forecast is its count × the trimmed mean of its homes'
forecasts, its state of charge the trimmed mean of theirs — a liar moves its group by at
most its own share, and not at all while liars stay under the trim.

Forecast errors of neighbouring homes are correlated (one weather, similar habits), so the
plan is made against the pessimistic side of the forecast: mean + z × the groups' summed
spread, per step. The plan, its prices and its exploitability come from
`meanfield.community`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from coordinator.game import Report
from meanfield.community import (
    Batteries,
    CapacityBasis,
    Horizon,
    Plan,
    exploitability,
    plan,
)
from meanfield.robust import trimmed_mean

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class EquilibriumConfig:
    types: int = 16             # battery planning units at most
    min_type_size: int = 10
    trim: float = 0.0           # share trimmed at each end of a group's reports
    quantile_z: float = 0.5     # plan against mean + z × spread (0: the mean only)
    wear_per_kwh: float = 0.002  # per kWh through a battery: breaks ties towards resting
    efficiency: float = 0.9     # round trip
    min_soc: float = 0.05
    max_soc: float = 1.0
    pv_groups: int = 4          # groups of homes without a battery, by PV size
    lp_method: str = "ipm"      # "ipm_interior": no crossover (meanfield/highs.py)


@dataclass(frozen=True)
class Tariff:
    """What the community pays the grid over the horizon (per kWh, per kW)."""

    retail: Floats              # (H,)
    feed_in: float
    capacity_per_kw: float = 0.0      # per kW of each billing period's peak import
    period: Ints | None = None        # (H,) billing period of each step
    peak_so_far_kw: float = 0.0       # the community's peak so far in the current period
    terminal_per_kwh: float | None = None
    capacity_basis: CapacityBasis = "community"   # coincident peak, or "home": each own


@dataclass(frozen=True)
class Equilibrium:
    price: Floats              # (H,) the community price per kWh: the duals in [feed-in, retail]
    marginal: Floats           # (H,) the duals themselves (above retail where the peak is set)
    capacity_price: Floats     # (H,) the capacity charge's share of `marginal`
    crate_edges: Floats        # (K+1,) unit k holds homes with edges[k] <= c-rate < edges[k+1]
    power_per_kwh: Floats      # (K, H) each unit's plan, kW per kWh of capacity (+ charge)
    net_load_kw: Floats        # (H,) planned community import − export
    planned_for_kw: Floats     # (H,) the aggregate net load the plan was made against
    peak_kw: Floats            # (periods,) the planned peak of each billing period
    exploitability: float      # largest gain of a unit from deviating, per kWh of capacity
    solve_s: float

    def unit_of(self, crate: float | Floats) -> Ints:
        """The planning unit of a battery with this c-rate (kW per kWh)."""
        k = np.searchsorted(self.crate_edges[1:-1], np.asarray(crate), side="right")
        return np.asarray(k, dtype=np.int64)


@dataclass(frozen=True)
class Reports:
    """Every home's report as arrays: (N,) state, (N, H) forecast mean and spread (kW)."""

    soc_pct: Floats
    battery_wh: Floats
    battery_max_w: Floats
    pv_kwp: Floats
    mean_kw: Floats
    std_kw: Floats
    peak_today_kw: Floats | None = None   # (N,) each home's own peak import so far today

    @classmethod
    def of(cls, reports: list[Report], steps: int) -> Reports:
        def col(name: str) -> Floats:
            return np.array([float(getattr(r, name)) for r in reports])

        return cls(col("soc_pct"), col("battery_wh"), col("battery_max_w"), col("pv_kwp"),
                   np.stack([np.asarray(r.mean_kw, dtype=np.float64)[:steps] for r in reports]),
                   np.stack([np.asarray(r.std_kw, dtype=np.float64)[:steps] for r in reports]))


def _groups(order: Ints, size: int, count: int) -> list[Ints]:
    k = max(1, min(count, order.size // max(1, size)))
    bounds = np.linspace(0, order.size, k + 1).round().astype(int)
    return [order[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _robust_sum(rows: Floats, trim: float) -> Floats:
    out: Floats = (rows.shape[0] * trimmed_mean(rows, trim) if rows.shape[0] > 2 and trim > 0
                   else rows.sum(axis=0))
    return out


def solve(reports: Reports | list[Report], tariff: Tariff,
          cfg: EquilibriumConfig = EquilibriumConfig(), *, dt_h: float = 0.25,
          exploit: bool = True) -> Equilibrium:
    """The equilibrium over the horizon of `tariff.retail` (H,); each report's forecast
    covers it (mean and spread, kW per step)."""
    steps = int(np.asarray(tariff.retail).size)
    r = reports if isinstance(reports, Reports) else Reports.of(reports, steps)
    if r.soc_pct.size == 0:
        raise ValueError("no reports")
    has = (r.battery_wh > 0) & (r.battery_max_w > 0)
    crate = np.where(has, r.battery_max_w / np.where(has, r.battery_wh, 1.0), 0.0)
    bat = np.flatnonzero(has)
    units = _groups(bat[np.argsort(crate[bat], kind="stable")], cfg.min_type_size, cfg.types) \
        if bat.size else []
    rest = np.flatnonzero(~has)
    groups = units + _groups(rest[np.argsort(r.pv_kwp[rest], kind="stable")],
                             cfg.min_type_size, cfg.pv_groups)
    sums = [(_robust_sum(r.mean_kw[g, :steps], cfg.trim),
             _robust_sum(r.std_kw[g, :steps], cfg.trim)) for g in groups]
    mean = np.sum([m for m, _ in sums], axis=0) if sums else np.zeros(steps)
    spread = np.sum([d for _, d in sums], axis=0) if sums else np.zeros(steps)
    own = tariff.capacity_basis == "home"
    unit_net = (np.stack([m + cfg.quantile_z * d for m, d in sums[:len(units)]])
                if own and units else None)
    so_far = r.peak_today_kw if r.peak_today_kw is not None else np.zeros(r.soc_pct.size)
    unit_peak = np.array([float(so_far[u].sum()) for u in units]) if own and units else None
    cap = np.array([r.battery_wh[u].sum() / 1000.0 for u in units])
    power = np.array([r.battery_max_w[u].sum() / 1000.0 for u in units])
    soc = np.array([float(trimmed_mean(r.soc_pct[u][:, None], cfg.trim)[0]) / 100.0
                    for u in units])
    bats = Batteries(cap, power, cap * np.clip(soc, cfg.min_soc, cfg.max_soc),
                     cap * cfg.min_soc, cap * cfg.max_soc, cfg.efficiency, unit_net, unit_peak)
    planned_for = mean + cfg.quantile_z * spread
    horizon = Horizon(planned_for, np.asarray(tariff.retail, dtype=np.float64), tariff.feed_in,
                      dt_h, tariff.capacity_per_kw, tariff.peak_so_far_kw,
                      tariff.terminal_per_kwh, cfg.wear_per_kwh, None, tariff.period,
                      tariff.capacity_basis if units else "community")
    p: Plan = plan(horizon, bats, method=cfg.lp_method)
    edges = np.concatenate([[0.0], [(crate[u[-1]] + crate[v[0]]) / 2
                                    for u, v in itertools.pairwise(units)], [np.inf]])
    gain = exploitability(p, bats, horizon) if exploit and units else np.zeros(1)
    retail = np.asarray(tariff.retail, dtype=np.float64)
    return Equilibrium(
        price=np.clip(p.price, tariff.feed_in, retail), marginal=p.price,
        capacity_price=(p.capacity_price if p.capacity_price.ndim == 1
                        else np.zeros(steps)), crate_edges=edges,
        power_per_kwh=(p.power_kw / cap[:, None]) if units else np.zeros((0, steps)),
        net_load_kw=p.import_kw - p.export_kw, planned_for_kw=planned_for,
        peak_kw=np.asarray(p.peak_kw).sum(axis=0) if own and units else np.asarray(p.peak_kw),
        exploitability=float(gain.max(initial=0.0)),
        solve_s=p.solve_s)
