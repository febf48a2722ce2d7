"""The community's equilibrium: one convex programme over the community's batteries, its
aggregate net load and its tariff, solved exactly by HiGHS; its dual prices are the signal.

With netting inside the community, what the community pays the grid depends only on its
aggregate: retail on the import, feed-in on the export, and a capacity charge on the peak
import of the billing period. The programme, per step t of the horizon (kW, kWh):

    minimise   Σ_t dt·(retail_t·I_t − feed_in·E_t) + capacity·P − value·Σ_b S_b,H
    subject to S_b,t = S_b,t−1 + √η·dt·c_b,t − dt/√η·d_b,t      (each battery b)
               0 ≤ c, d ≤ power_b,   min_b ≤ S_b,t ≤ max_b
               Σ_b (c_b,t − d_b,t) + net_t = I_t − E_t,   I_t, E_t ≥ 0   (balance)
               I_t ≤ P,   P ≥ peak so far                               (peak)

The dual of step t's balance row, per kWh, is the community's marginal price of energy at
t: retail where the community imports, feed-in where it exports, in between where its
batteries just balance it, and above retail at the steps that set the peak (the capacity
charge's share). A price-taking home whose battery follows its type's plan does as well as
any other plan at those prices (complementary slackness): the plan and the prices are an
equilibrium of the homes' game, with no gain from deviating (`exploitability`). Payments
inside the community at these prices, clipped to [feed-in, retail], are what homes pay.

Pure: numpy and the HiGHS solver (highspy), no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from meanfield.highs import INF, LpError, Triplets, solve_lp

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Batteries:
    """Planning units: one battery each (a home, or a type's homes added up)."""

    capacity_kwh: Floats
    power_kw: Floats
    stored_kwh: Floats       # now
    min_kwh: Floats
    max_kwh: Floats
    efficiency: float = 0.9  # round trip; √η on charge and on discharge
    # With a capacity charge on each home's own peak: each unit's own net load (B, H)
    # before its battery, and the peak it already reached in the current billing period.
    net_kw: Floats | None = None
    peak_so_far_kw: Floats | None = None

    @property
    def size(self) -> int:
        return int(self.capacity_kwh.size)


CapacityBasis = Literal["community", "home"]


@dataclass(frozen=True)
class Horizon:
    """What the community faces over the next H steps (per kWh prices, kW loads)."""

    net_kw: Floats              # (H,) aggregate load − PV of every home, before batteries
    retail: Floats              # (H,) per kWh imported
    feed_in: float | Floats     # per kWh exported (a number, or one per step)
    dt_h: float = 0.25
    capacity_per_kw: float = 0.0    # per kW of a billing period's peak import
    peak_so_far_kw: float = 0.0     # the community's peak already reached in the period
    terminal_per_kwh: float | None = None  # value of energy left at the end (default feed-in)
    wear_per_kwh: float = 0.0       # per kWh through a battery (charge or discharge side)
    headroom_kw: Floats | None = None   # (H,) kept between the planned import and the peak
    period: npt.NDArray[np.int64] | None = None  # (H,) billing period of each step (0, 1, …)
    # "community": the charge is on the community's coincident peak; "home": on each
    # unit's own peak (`Batteries.net_kw`; homes without a battery cannot change theirs).
    capacity_basis: CapacityBasis = "community"

    @property
    def steps(self) -> int:
        return int(self.net_kw.size)


@dataclass(frozen=True)
class Plan:
    power_kw: Floats         # (B, H) battery power, + charge
    stored_kwh: Floats       # (B, H) at the end of each step
    import_kw: Floats        # (H,)
    export_kw: Floats        # (H,)
    peak_kw: Floats          # (periods,) community basis; (B, periods) home basis
    price: Floats            # (H,) marginal price of energy per kWh (the balance duals)
    capacity_price: Floats   # (H,) community basis: the capacity's share of `price`;
                             # (B, H) home basis: each unit's own capacity price per kWh
    cost: float              # the objective (grid bill + capacity − terminal value)
    solve_s: float


class PlanError(LpError):
    """HiGHS found no optimal plan (infeasible data, numerical trouble)."""


def plan(h: Horizon, b: Batteries, *, method: str = "ipm") -> Plan:
    """The community's optimal battery plan over the horizon, and its prices."""
    steps, nb, dt = h.steps, b.size, h.dt_h
    own = h.capacity_basis == "home"
    if own and b.net_kw is None:
        raise ValueError("a capacity charge on each home's peak needs Batteries.net_kw")
    eta = math.sqrt(b.efficiency)
    feed_in = np.broadcast_to(np.asarray(h.feed_in, dtype=np.float64), (steps,))
    tv = float(np.min(feed_in)) if h.terminal_per_kwh is None else h.terminal_per_kwh
    period = (np.zeros(steps, dtype=np.int64) if h.period is None
              else np.asarray(h.period, dtype=np.int64) - int(h.period[0]))
    periods = int(period.max()) + 1
    nbh = nb * steps
    # Columns: per unit c (H), d (H), s (H); then I (H), E (H); then the peaks.
    i_col = 3 * nbh + np.arange(steps)
    e_col = i_col + steps
    npeak = nb * periods if own else periods
    p_col = 3 * nbh + 2 * steps + np.arange(npeak)
    ncol = 3 * nbh + 2 * steps + npeak
    k = np.repeat(np.arange(nb), steps)
    t = np.tile(np.arange(steps), nb)
    c_col = 3 * steps * k + t
    d_col, s_col = c_col + steps, c_col + 2 * steps
    # Rows: dynamics (B·H), balance (H), peaks (B·H or H).
    dyn = k * steps + t
    bal = nbh + np.arange(steps)
    peak = nbh + steps + (np.arange(nbh) if own else np.arange(steps))
    later = t > 0
    m = Triplets()
    m.storage(dyn, c_col, d_col, s_col, later, eta, dt)
    m.add(bal[t], c_col, 1.0)
    m.add(bal[t], d_col, -1.0)
    m.add(bal, i_col, -1.0)
    m.add(bal, e_col, 1.0)
    inf = INF
    net = np.asarray(h.net_kw, dtype=np.float64)
    room = np.zeros(steps) if h.headroom_kw is None else np.asarray(h.headroom_kw, float)
    if own:
        assert b.net_kw is not None
        m.add(peak, c_col, 1.0)
        m.add(peak, d_col, -1.0)
        m.add(peak, p_col[k * periods + period[t]], -1.0)
        peak_hi = -(np.asarray(b.net_kw, dtype=np.float64)[:, :steps].reshape(-1)
                    + np.tile(room, nb))
    else:
        m.add(peak, i_col, 1.0)
        m.add(peak, p_col[period], -1.0)
        peak_hi = -room
    start, index, value = m.csc(ncol)

    lower, upper = np.zeros(ncol), np.full(ncol, inf)
    per = np.zeros((nb, 3, steps))
    per[:, 0, :] = b.power_kw[:, None]
    per[:, 1, :] = b.power_kw[:, None]
    per[:, 2, :] = b.max_kwh[:, None]
    upper[: 3 * nbh] = per.reshape(-1)
    low = np.zeros((nb, 3, steps))
    low[:, 2, :] = b.min_kwh[:, None]
    lower[: 3 * nbh] = low.reshape(-1)
    if own:
        so_far = np.zeros(nb) if b.peak_so_far_kw is None else b.peak_so_far_kw
        lower[p_col[np.arange(nb) * periods]] = np.maximum(0.0, so_far)
    else:
        lower[p_col[0]] = max(0.0, h.peak_so_far_kw)
    cost = np.zeros(ncol)
    cost[i_col] = dt * np.asarray(h.retail, dtype=np.float64)
    cost[e_col] = -dt * feed_in
    cost[p_col] = h.capacity_per_kw
    cost[s_col[t == steps - 1]] = -tv
    cost[c_col] += dt * h.wear_per_kwh
    cost[d_col] += dt * h.wear_per_kwh
    rhs_lo = np.concatenate([np.zeros(nbh), -net, np.full(peak.size, -inf)])
    rhs_hi = np.concatenate([np.zeros(nbh), -net, peak_hi])
    first = dyn[t == 0]
    rhs_lo[first] = rhs_hi[first] = np.clip(b.stored_kwh, b.min_kwh, b.max_kwh)

    try:
        sol = solve_lp(cost, lower, upper, rhs_lo, rhs_hi, (start, index, value), method=method)
    except LpError as exc:
        raise PlanError(str(exc)) from exc
    x, duals = sol.x, sol.duals
    power = (x[c_col] - x[d_col]).reshape(nb, steps)
    stored = x[s_col].reshape(nb, steps)
    # ∂cost/∂rhs of the balance row: its rhs is −net, so one kWh more load costs −dual/dt.
    price = -duals[bal] / dt
    capacity = -duals[peak] / dt
    return Plan(power_kw=power, stored_kwh=stored, import_kw=x[i_col], export_kw=x[e_col],
                peak_kw=x[p_col].reshape(nb, periods) if own else x[p_col], price=price,
                capacity_price=capacity.reshape(nb, steps) if own else capacity,
                cost=sol.objective, solve_s=sol.solve_s)


def value_at(prices: Floats, power_kw: Floats, stored_end_kwh: float, h: Horizon,
             net_kw: Floats | None = None, peak_so_far_kw: float = 0.0) -> float:
    """What one unit's schedule costs a price-taker paying `prices` (per kWh) for its
    exchange (its own net load, if any, plus its battery), with wear, its own capacity
    charge on the home basis, and the value of the energy left at the end."""
    tv = _terminal(h)
    flow = power_kw if net_kw is None else net_kw + power_kw
    out = float(np.sum(prices * flow) * h.dt_h) - tv * stored_end_kwh \
        + h.wear_per_kwh * float(np.abs(power_kw).sum()) * h.dt_h
    if h.capacity_basis == "home" and h.capacity_per_kw > 0:
        period = np.zeros(h.steps, dtype=np.int64) if h.period is None \
            else np.asarray(h.period) - int(h.period[0])
        for q in np.unique(period):
            top = float(flow[period == q].max())
            out += h.capacity_per_kw * max(0.0, top, peak_so_far_kw if q == 0 else 0.0)
    return out


def _terminal(h: Horizon) -> float:
    return float(np.min(np.broadcast_to(h.feed_in, (h.steps,)))) \
        if h.terminal_per_kwh is None else h.terminal_per_kwh


def best_response(prices: Floats, unit: Batteries, h: Horizon) -> Plan:
    """One price-taker's best schedule when every kWh in or out is worth `prices` (and, on
    the home basis, its own peak costs the capacity charge)."""
    own = h.capacity_basis == "home"
    net = unit.net_kw[0] if own and unit.net_kw is not None else np.zeros(h.steps)
    so_far = float(unit.peak_so_far_kw[0]) if own and unit.peak_so_far_kw is not None else 0.0
    alone = Batteries(unit.capacity_kwh, unit.power_kw, unit.stored_kwh, unit.min_kwh,
                      unit.max_kwh, unit.efficiency)
    return plan(Horizon(net, prices, prices, h.dt_h, h.capacity_per_kw if own else 0.0,
                        so_far, _terminal(h), h.wear_per_kwh, None, h.period), alone)


def exploitability(p: Plan, b: Batteries, h: Horizon) -> Floats:
    """Per planning unit: how much it would gain, per kWh of its capacity, by answering the
    plan's own prices with its best schedule instead of the plan (≥ 0; 0 at equilibrium)."""
    own = h.capacity_basis == "home"
    out = np.zeros(b.size)
    for i in range(b.size):
        sl = slice(i, i + 1)
        unit = Batteries(b.capacity_kwh[sl], b.power_kw[sl], b.stored_kwh[sl], b.min_kwh[sl],
                         b.max_kwh[sl], b.efficiency,
                         None if b.net_kw is None else b.net_kw[sl],
                         None if b.peak_so_far_kw is None else b.peak_so_far_kw[sl])
        net = unit.net_kw[0] if own and unit.net_kw is not None else None
        so_far = float(unit.peak_so_far_kw[0]) if own and unit.peak_so_far_kw is not None \
            else 0.0
        mine = value_at(p.price, p.power_kw[i], float(p.stored_kwh[i, -1]), h, net, so_far)
        br = best_response(p.price, unit, h)
        best = value_at(p.price, br.power_kw[0], float(br.stored_kwh[0, -1]), h, net, so_far)
        out[i] = max(0.0, mine - best) / max(1e-9, float(b.capacity_kwh[i]))
    return out
