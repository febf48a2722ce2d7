"""The equilibrium policy: a home runs its planning unit's plan, scaled to its battery.

The coordinator's signal carries, per planning unit (homes whose batteries have a similar
c-rate, kW per kWh), the unit's battery power per kWh of capacity for every interval of
the horizon, and the c-rate edges between the units. A home finds its unit from its own
battery and runs the unit's power × its capacity: at the equilibrium prices no other
schedule would pay it more (the signal reports how much, its exploitability), and the
units' schedules add up to the community's plan.

Around that set-point the battery absorbs the home's own forecast error, as a battery in
self-consumption mode does around a grid target: the home's exchange with the grid stays
what the plan expected of it. The daemon's safety clamp (`agent.domain.decision`) limits
the result. Pure numpy; scalars (the daemon) or arrays of homes (the fleet simulator).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def unit_of(crate_edges: npt.ArrayLike, capacity_wh: npt.ArrayLike,
            max_power_w: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Each battery's planning unit from its c-rate (kW per kWh)."""
    cap = np.asarray(capacity_wh, dtype=np.float64)
    crate = np.where(cap > 0, np.asarray(max_power_w, dtype=np.float64)
                     / np.where(cap > 0, cap, 1.0), 0.0)
    edges = np.asarray(crate_edges, dtype=np.float64)
    out: npt.NDArray[np.int64] = np.searchsorted(edges[1:-1], crate, side="right").astype(
        np.int64)
    return out


def setpoint_w(power_per_kwh: npt.ArrayLike, crate_edges: npt.ArrayLike, step: int,
               capacity_wh: npt.ArrayLike, max_power_w: npt.ArrayLike) -> Floats:
    """The planned battery power (W, + charge) for `step` of the signal's horizon; 0 for a
    home without a battery, past the horizon, or when the plan has no units."""
    plan = np.asarray(power_per_kwh, dtype=np.float64)
    cap = np.asarray(capacity_wh, dtype=np.float64)
    if plan.ndim != 2 or plan.shape[0] == 0 or not 0 <= step < plan.shape[1]:
        return np.zeros_like(cap)
    unit = np.minimum(unit_of(crate_edges, cap, max_power_w), plan.shape[0] - 1)
    out: Floats = np.where(cap > 0, plan[unit, step] * cap, 0.0)
    return out


def tracking_w(forecast_kw: npt.ArrayLike, measured_kw: npt.ArrayLike,
               capacity_wh: npt.ArrayLike) -> Floats:
    """The correction that makes the battery absorb the home's forecast error (W, + charge):
    more load than forecast discharges it, more PV charges it."""
    cap = np.asarray(capacity_wh, dtype=np.float64)
    err = np.asarray(forecast_kw, dtype=np.float64) - np.asarray(measured_kw, dtype=np.float64)
    out: Floats = np.where(cap > 0, err * 1000.0, 0.0)
    return out
