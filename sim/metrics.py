"""The metrics of one strategy's run, against the no-trading baseline and the LP optimum.

Definitions (docs/simulate.md has them in prose):
- welfare (community, €) = Σ_homes [load × retail tariff − cost + stored-energy change ×
  feed-in]; cost = grid bill on the residual after paid trades + payments made + routing
  fees − payments received. The load's value is the same in every strategy, so ranking
  by welfare is ranking by cost; it keeps the ratio to the optimum positive.
- efficiency_vs_optimum = welfare / the LP's welfare (≤ 1: the LP bounds every strategy);
  gain_captured = (welfare − no trading's) / (LP's − no trading's).
- peak_reduction_pct = 100 × (1 − peak community import / no trading's peak import).
- cost_per_home_eur, revenue_per_home_eur (payments received for energy sold): mean and
  percentiles over homes.
- price_volatility = std / mean of the volume-weighted trade price over the intervals
  with trades; `community_price_cv` the same for the community price each home used.
- jain_fairness = Jain's index (Σx)² / (n Σx²) of each home's saving against no trading,
  losses counted as 0 (`homes_worse_off_pct` says how many lost).
- negotiation_latency_ms: percentiles of wall-clock time in the negotiation code from an
  offer to the seller's agreement; agreement_rate = agreements / sessions (offers);
  payment_success_rate = payments completed / agreements;
  channel_utilization: each home channel's balance move as a share of its capacity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from sim.engine import RunResult

Floats = npt.NDArray[np.float64]


def dist(values: Floats | list[float], scale: float = 1.0) -> dict[str, float | None]:
    v = np.asarray(values, dtype=np.float64) * scale
    if v.size == 0:
        return {"mean": None, "p5": None, "p25": None, "p50": None, "p75": None, "p95": None}
    q = np.percentile(v, [5, 25, 50, 75, 95])
    return {"mean": _r(v.mean()), "p5": _r(q[0]), "p25": _r(q[1]), "p50": _r(q[2]),
            "p75": _r(q[3]), "p95": _r(q[4])}


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def jain(x: Floats) -> float | None:
    s2 = float(np.sum(x**2))
    return None if s2 == 0 else float(np.sum(x) ** 2 / (x.size * s2))


def cv(values: list[float]) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    return None if v.size < 2 or v.mean() == 0 else _r(v.std() / v.mean())


def latency(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    q = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": _r(q[0]), "p95": _r(q[1]), "p99": _r(q[2])}


def metrics(run: RunResult, none: RunResult, lp_welfare_msat: float,
            eur_per_msat: float, mpc_welfare_msat: float | None = None) -> dict[str, Any]:
    welfare = float(run.welfare_msat.sum())
    w_none = float(none.welfare_msat.sum())
    # A home's bill alone, at least €1 (a home whose bill is near nothing makes any loss a
    # large share of it).
    bill = np.maximum(np.abs(none.cost_msat - none.terminal_msat), 1.0 / eur_per_msat)
    saving = none.cost_msat - none.terminal_msat - (run.cost_msat - run.terminal_msat)
    peak, peak_none = float(run.import_kw.max()), float(none.import_kw.max())
    lat = np.asarray(run.latency_ms)
    trading = run.sessions > 0
    return {
        "welfare_eur": _r(welfare * eur_per_msat, 2),
        "efficiency_vs_optimum": _r(welfare / lp_welfare_msat),
        "gain_captured": (_r((welfare - w_none) / (lp_welfare_msat - w_none))
                          if lp_welfare_msat != w_none else None),
        "gain_captured_vs_mpc": (_r((welfare - w_none) / (mpc_welfare_msat - w_none))
                                 if mpc_welfare_msat is not None
                                 and mpc_welfare_msat != w_none else None),
        "peak_import_kw": _r(peak, 2),
        "peak_reduction_pct": _r(100.0 * (1.0 - peak / peak_none), 2) if peak_none > 0 else None,
        "cost_per_home_eur": dist(run.cost_msat, eur_per_msat),
        "revenue_per_home_eur": dist(run.revenue_msat, eur_per_msat),
        "community_cost_eur": _r(float(run.cost_msat.sum()) * eur_per_msat, 2),
        "price_volatility": cv(run.trade_price_msat),
        "community_price_cv": cv(run.price_msat),
        "jain_fairness": (_r(j) if (j := jain(np.maximum(saving, 0.0))) is not None else None),
        # Worse off by at least a millisatoshi (the smallest amount a payment carries;
        # below it a difference is floating-point rounding).
        "homes_worse_off_pct": _r(100.0 * float(np.mean(saving < -1.0)), 2),
        # Worse off by more than 1 % of the bill alone (a cent's rounding is not a loss).
        "homes_worse_off_1pct_pct": _r(100.0 * float(np.mean(saving < -0.01 * bill)), 2),
        "worst_home_loss_pct_of_bill": (_r(100.0 * float(np.max(-saving / bill)), 3)
                                        if saving.size else None),
        "capacity_charge_eur": _r(float(run.capacity_msat.sum()) * eur_per_msat, 2),
        "exploitability_eur_per_kwh": (_r(float(np.max(run.exploitability)), 6)
                                       if run.exploitability else None),
        "negotiation_latency_ms": latency(run.latency_ms),
        "negotiations_within_100ms_pct": (_r(100.0 * float(np.mean(lat <= 100.0)), 2)
                                          if lat.size else None),
        "negotiation_time_simulated_ms": latency(run.simulated_ms),
        "sessions": run.sessions,
        "agreements": run.agreements,
        "agreement_rate": _r(run.agreements / run.sessions) if trading else None,
        "energy_offered_kwh": _r(run.offered_wh / 1000.0, 2),
        "energy_agreed_kwh": _r(run.agreed_wh / 1000.0, 2),
        "payment_success_rate": (_r(run.payments["succeeded"] / run.agreements)
                                 if run.agreements else None),
        "payments": run.payments,
        "channel_utilization": {k: _r(v) for k, v in run.channel_utilization.items()}
        if trading else None,
        "coordinator_solve_s": _r(float(np.sum(run.solve_s)), 2) if run.solve_s else None,
    }
