"""What the grid charges a community besides energy: the capacity charge, and the value of
the energy left in the batteries when a run ends.

Capacity: each billing period (a day here) a home pays `rate` per kW of its own peak, its
largest 15-minute import (the Flemish basis, each meter on its own); the rate per day is
the yearly rate / 365. With the basis "community" the community pays on its coincident
peak instead, and shares that charge among its homes in proportion to their own peak
imports of the day: the total is what the feeder's peak costs, each home's share follows
its own meter, and a home whose readings do not change (no battery) pays more only if
the community's peak rises against its homes' own peaks. (Sharing by each home's import
in the peak interval instead moved the charge onto homes without a battery whenever the
peak moved to an hour in which they import more: 16 % of homes worse off in one seed.)

Terminal value: energy still stored at the end of a run will displace an import later;
it is worth √η (the discharge efficiency) × the run's mean retail price per kWh stored,
in every strategy and in the optimum alike. (Valuing it at feed-in let a planner that
knows when the run ends empty every battery in its last hours, a gain no running system
can have.)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
DAY_S = 86400


def periods(first_step_s: float, steps: int, interval_s: int) -> Ints:
    """The billing period (day since the first step's day) of each step."""
    t = first_step_s + np.arange(steps) * interval_s
    out: Ints = (t // DAY_S - first_step_s // DAY_S).astype(np.int64)
    return out


def capacity_charges(grid_kw: Floats, period: Ints, rate_per_kw_period: float,
                     basis: str = "home",
                     alone_kw: Floats | None = None) -> tuple[Floats, Floats]:
    """Each home's capacity charge (N,) and the community's peak per period (P,), from the
    homes' net exchange per step `grid_kw` (N, T), + import. Basis "home": each home pays
    on its own peak import of the period; "community": the community pays on its
    coincident peak, shared among the homes in proportion to their own peak imports.

    With `alone_kw` (each home's exchange had it been alone: its battery in
    self-consumption on the same measured load and PV, the rationality guard's shadow), the
    community's share per kW of own peak is at most the alone community's, and what that
    leaves of the charge falls on the homes whose own peak rose above their alone peak, in
    proportion to the rise: a home whose meter reads as it would alone never pays more for
    another home's battery."""
    charges = np.zeros(grid_kw.shape[0])
    community = grid_kw.sum(axis=0)
    peaks = []
    for p in np.unique(period):
        steps = np.flatnonzero(period == p)
        t = int(steps[np.argmax(community[steps])])
        peak = max(0.0, float(community[t]))
        peaks.append(peak)
        if rate_per_kw_period <= 0:
            continue
        if basis == "home":
            charges += rate_per_kw_period * np.maximum(0.0, grid_kw[:, steps].max(axis=1))
        elif peak > 0:
            own = np.maximum(0.0, grid_kw[:, steps].max(axis=1))
            if own.sum() <= 0:
                continue
            if alone_kw is None:
                charges += rate_per_kw_period * peak * own / own.sum()
                continue
            charges += rate_per_kw_period * _shared(peak, own, alone_kw[:, steps])
    return charges, np.asarray(peaks)


def _shared(peak: float, own: Floats, alone_kw: Floats) -> Floats:
    """kW of the coincident peak each home pays for (see `capacity_charges`)."""
    alone_own = np.maximum(0.0, alone_kw.max(axis=1))
    alone_peak = max(0.0, float(alone_kw.sum(axis=0).max()))
    factor = peak / own.sum()
    if alone_own.sum() > 0:
        factor = min(factor, alone_peak / alone_own.sum())
    base: Floats = own * factor
    rest = peak - float(base.sum())
    rise = np.maximum(own - alone_own, 0.0)
    weights = rise if rise.sum() > 1e-9 else own
    out: Floats = base + max(rest, 0.0) * weights / weights.sum()
    return out


def terminal_per_kwh(mean_retail: float, efficiency: float) -> float:
    return math.sqrt(efficiency) * mean_retail
