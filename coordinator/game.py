"""From the agents' state reports to the energy game, and from its solution to prices.

Pure (numpy, no I/O). Agents are sorted by battery size and risk aversion and split into
at most `max_types` types of at least `min_type_size` agents. Each type's parameters are
robust estimates over its agents: trimmed means of the forecast mean and spread per
step, medians of battery size, power and risk aversion, and its SoC distribution from
the agents' reports with each agent's weight capped — one liar moves only its own share.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from meanfield.energy import EnergyGame, GameSpec, HomeType, PriceLaw
from meanfield.robust import capped_weights, plain_mean, trimmed_mean
from meanfield.solver import Floats, Solution, SolverSettings, solve

# Relative residual 1e-3 (1 W per kW of aggregate; tighter does not change the exploitability,
# which the temperature sets); temperature 1e-2 of one grid step's
# cost keeps the response smooth and the exploitability ~1e-3 of the turnover.
# The risk term is recursive (the variance of a continuation value that holds the later
# risk terms); far above a few per € it compounds over 96 steps. Reports are capped here.
MAX_RISK = 5.0

SOLVER = SolverSettings(tol=1e-3, temperature=1e-2, max_iter=100, memory=8)


@dataclass(frozen=True)
class Report:
    """One agent's report aligned to the horizon (kW per step)."""

    soc_pct: float
    battery_wh: float
    battery_max_w: float
    mean_kw: Floats
    std_kw: Floats
    risk_aversion: float = 0.0
    pv_kwp: float = 0.0


@dataclass(frozen=True)
class GameConfig:
    points: int = 51
    max_types: int = 16
    min_type_size: int = 20
    trim: float = 0.25          # at least the fraction of liars to tolerate
    weight_cap: float = 0.1     # no agent above this share of its type's SoC distribution
    robust: bool = True         # False: plain means (the comparison in the benchmark)
    price_scale_kw: float = 1.0  # per home: how fast the price moves through the band
    peak_kw: float = 3.0        # per home: above it the price climbs `peak_per_kw`
    peak_per_kw: float = 0.05
    dt_h: float = 0.25
    solver: SolverSettings = field(default_factory=lambda: SOLVER)


@dataclass(frozen=True)
class Outcome:
    price: Floats            # (H,) per kWh, the tariff's currency
    per_home_kw: Floats      # (H+1,) the mean field: net load per home (a warm start)
    net_load_kw: Floats      # (H,) community total at equilibrium (batteries included)
    net_load_std_kw: Floats  # (H,) spread of the forecast around it
    solution: Solution
    game: EnergyGame


def _soc_distribution(soc_pct: Floats, points: int, cap: float) -> Floats:
    w = capped_weights(np.ones(soc_pct.size), cap)
    pos = np.clip(soc_pct, 0.0, 100.0) / 100.0 * (points - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), points - 1)
    hi = np.minimum(lo + 1, points - 1)
    frac = pos - lo
    dist = np.bincount(lo, w * (1 - frac), points) + np.bincount(hi, w * frac, points)
    out: Floats = dist / dist.sum()
    return out


def _home_type(group: list[Report], cfg: GameConfig) -> HomeType:
    means = np.stack([r.mean_kw for r in group])
    stds = np.stack([r.std_kw for r in group])
    locate = ((lambda v: trimmed_mean(v, cfg.trim, cap=cfg.weight_cap)) if cfg.robust
              else plain_mean)
    return HomeType(
        count=float(len(group)),
        capacity_kwh=max(0.1, float(np.median([r.battery_wh for r in group])) / 1000),
        power_kw=float(np.median([r.battery_max_w for r in group])) / 1000,
        load_mean_kw=locate(means), load_std_kw=np.maximum(locate(stds), 0.0),
        soc0=_soc_distribution(np.array([r.soc_pct for r in group]), cfg.points,
                               cfg.weight_cap),
        risk_aversion=min(MAX_RISK, float(np.median([r.risk_aversion for r in group]))))


def types_of(reports: list[Report], cfg: GameConfig) -> tuple[HomeType, ...]:
    ordered = sorted(reports, key=lambda r: (r.battery_wh, r.battery_max_w, r.pv_kwp,
                                             r.risk_aversion))
    k = max(1, min(cfg.max_types, len(ordered) // max(1, cfg.min_type_size)))
    bounds = np.linspace(0, len(ordered), k + 1).round().astype(int)
    return tuple(_home_type(ordered[a:b], cfg) for a, b in itertools.pairwise(bounds)
                 if b > a)


def solve_reports(reports: list[Report], retail: Floats, feed_in: float,
                  cfg: GameConfig = GameConfig(), start: Floats | None = None) -> Outcome:
    """Prices and the equilibrium aggregate for the horizon of `retail` (H,); `start` is a
    guess of the net load per home (H+1,), e.g. the last solution shifted by one step."""
    if not reports:
        raise ValueError("no reports")
    types = types_of(reports, cfg)
    law = PriceLaw(np.asarray(retail, dtype=np.float64), feed_in, 0.0, cfg.price_scale_kw,
                   cfg.peak_kw, cfg.peak_per_kw)
    game = EnergyGame(GameSpec(types, law, dt_h=cfg.dt_h, homes=float(len(reports))),
                      points=cfg.points)
    if start is not None and start.shape != (retail.shape[0] + 1,):
        start = None
    sol = solve(game, cfg.solver, start=start)
    z = sol.exploitability.z
    price, _ = game.prices(z)
    n = float(len(reports))
    spread = np.sqrt(sum(t.count * t.load_std_kw**2 for t in types))
    return Outcome(price, z, n * z[:-1], np.asarray(spread, dtype=np.float64), sol, game)


def exploitability_rel(outcome: Outcome) -> float:
    turnover = outcome.game.turnover(outcome.solution.exploitability.z)
    return outcome.solution.exploitability.gain / turnover if turnover > 0 else 0.0
