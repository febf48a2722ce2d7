"""The coordinator's community plan for the signal: the same solve the simulator makes.

From the live state reports `coordinator.equilibrium.solve` (robust aggregation per group,
HiGHS LP over the horizon, the tariff with its capacity charge) gives the community price
of each step (the balance duals, clipped to [feed-in, retail]) and each planning unit's
battery plan (kW per kWh of capacity); this module turns that into the signal's fields.
Their size is the horizon × the number of units (at most `max_types`), whatever the
number of homes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from coordinator.equilibrium import Equilibrium, EquilibriumConfig, Reports, Tariff, solve
from coordinator.game import Report

Floats = npt.NDArray[np.float64]
EFFICIENCY = 0.9   # round trip, as the equilibrium's default
DAY_S = 86_400


@dataclass(frozen=True)
class PlanInputs:
    first: int                  # the horizon's first interval
    interval_s: int
    retail_msat: Floats         # (H,) msat per kWh
    feed_in_msat: float
    eur_per_msat: float
    capacity_eur_per_kw_year: float = 0.0


def solve_plan(reports: list[Report], inputs: PlanInputs,
               cfg: EquilibriumConfig) -> Equilibrium:
    """The equilibrium over the horizon; € inside, as the simulator's call."""
    eur = inputs.eur_per_msat
    steps = inputs.retail_msat.size
    day = np.asarray([(inputs.first + i) * inputs.interval_s // DAY_S for i in range(steps)],
                     dtype=np.int64)
    # The capacity charge on each day's peak, pro rata: per kW and day.
    per_kw_day = inputs.capacity_eur_per_kw_year / 365.0
    # Energy left in the batteries at the end is worth what it saves later (sim.tariff).
    terminal = math.sqrt(EFFICIENCY) * float(inputs.retail_msat.mean()) * eur
    tariff = Tariff(inputs.retail_msat * eur, inputs.feed_in_msat * eur, per_kw_day, day,
                    0.0, terminal, "community")
    return solve(Reports.of(reports, steps), tariff, cfg, dt_h=inputs.interval_s / 3600.0)


def signal_fields(eq: Equilibrium, inputs: PlanInputs) -> dict[str, Any]:
    """The signal's fields from the equilibrium: prices in msat/kWh, the units' plans."""
    prices = np.clip(np.rint(eq.price / inputs.eur_per_msat), inputs.feed_in_msat,
                     inputs.retail_msat)
    return {
        "solver": "equilibrium",
        "price_msat_per_kwh": [int(p) for p in prices],
        "equilibrium_net_load_kw": [round(float(x), 4) for x in eq.net_load_kw],
        "plan_power_per_kwh": [[round(float(x), 5) for x in row] for row in eq.power_per_kwh],
        "plan_crate_edges": [round(float(x), 6) for x in eq.crate_edges[1:-1]],
        "exploitability_eur_per_kwh": max(0.0, float(eq.exploitability)),
        "residual": 0.0,
    }
