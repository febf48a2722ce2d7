"""The central optimum: one linear programme over all homes and steps (HiGHS via highspy).

Perfect foresight of every home's load and PV; the same batteries (power limit, SoC
window, one-way efficiency √η on charge and on discharge, same start) and the same
tariff. Energy traded inside the community costs nothing (payments cancel), so the
community pays retail on its aggregate import and gets feed-in on its aggregate export.
Maximising welfare = minimising

    Σ_t dt·(retail_t·I_t − feed_in·E_t) − feed_in·Σ_i (S_i,T − S_i,0)

subject to, per home i and step t (kW, kWh):
    S_i,t = S_i,t−1 + √η·dt·c_i,t − dt/√η·d_i,t,   0 ≤ c, d ≤ P_i,   S_min ≤ S ≤ S_max
and per step:  Σ_i (net_i,t + c_i,t − d_i,t) = I_t − E_t,   I_t, E_t ≥ 0.

Stored energy left at the end is valued at the feed-in price, in every strategy alike.
Every strategy's battery trajectory is feasible here and its community cost is at least
this aggregate cost (per-home netting and routing fees only add), so the LP bounds every
strategy's welfare on the same data.

Steps that share their data (load, PV and tariff equal in each run of `block` steps, as
with hourly data on 15-minute intervals) are solved as one step of `block`× the length:
averaging a solution's powers over a block keeps it feasible (the box constraints are
convex, the block's end states are unchanged) and does not raise its cost (the cost is
convex in the powers), so the aggregated LP has the same optimum. A test checks it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Optimum:
    cost_msat: float           # community cost (grid bill − terminal value), msat
    import_kw: Floats          # (steps,) community import after batteries (+), per step
    status: str
    solve_s: float
    block: int
    columns: int
    rows: int


def _block(net_kw: Floats, retail: Floats, candidate: int) -> int:
    steps = net_kw.shape[1]
    if candidate <= 1 or steps % candidate:
        return 1
    a = net_kw.reshape(net_kw.shape[0], -1, candidate)
    r = retail.reshape(-1, candidate)
    same = np.all(a == a[:, :, :1]) and np.all(r == r[:, :1])
    return candidate if same else 1


def solve_optimum(net_kw: Floats, capacity_kwh: Floats, power_kw: Floats, soc0_kwh: Floats,
                  min_kwh: Floats, max_kwh: Floats, efficiency: float,
                  retail_msat_per_kwh: Floats, feed_in_msat_per_kwh: float, dt_h: float,
                  *, block: int = 4, method: str = "ipm") -> Optimum:
    """`net_kw` (N, T) load − PV per home; battery arrays (N,); `retail` (T,)."""
    retail = np.asarray(retail_msat_per_kwh, dtype=np.float64)
    b = _block(net_kw, retail, block)
    if b > 1:
        net_kw = net_kw[:, ::b]
        retail = retail[::b]
    h = net_kw.shape[1]
    dt = dt_h * b
    eta = float(np.sqrt(efficiency))
    bat = np.flatnonzero((capacity_kwh > 0) & (power_kw > 0))
    nb = bat.size
    ncol = 3 * nb * h + 2 * h
    nrow = nb * h + h
    # Column blocks per battery home k: c (h), d (h), s (h); then I (h), E (h).
    k = np.repeat(np.arange(nb), h)
    t = np.tile(np.arange(h), nb)
    c_col = 3 * h * k + t
    d_col = c_col + h
    s_col = c_col + 2 * h
    dyn = k * h + t                   # the dynamics row of (k, t)
    bal = nb * h + t                  # the balance row of step t
    later = t < h - 1
    rows = np.concatenate([dyn, bal, dyn, bal, dyn, dyn[later] + 1,
                           nb * h + np.arange(h), nb * h + np.arange(h)])
    cols = np.concatenate([c_col, c_col, d_col, d_col, s_col, s_col[later],
                           3 * nb * h + np.arange(h), 3 * nb * h + h + np.arange(h)])
    vals = np.concatenate([np.full(nb * h, -eta * dt), np.ones(nb * h),
                           np.full(nb * h, dt / eta), -np.ones(nb * h),
                           np.ones(nb * h), -np.ones(int(later.sum())),
                           -np.ones(h), np.ones(h)])
    order = np.lexsort((rows, cols))
    rows, cols, vals = rows[order], cols[order], vals[order]
    start = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=ncol))])

    p = np.repeat(power_kw[bat], h)
    lower = np.zeros(ncol)
    upper = np.concatenate([np.zeros(3 * nb * h), np.full(2 * h, highspy.kHighsInf)])
    s_lo, s_hi = np.repeat(min_kwh[bat], h), np.repeat(max_kwh[bat], h)
    for arr, cvals, dvals, svals in ((lower, 0.0, 0.0, s_lo), (upper, p, p, s_hi)):
        view = arr[: 3 * nb * h].reshape(nb, 3, h)
        view[:, 0, :] = np.broadcast_to(cvals, nb * h).reshape(nb, h)
        view[:, 1, :] = np.broadcast_to(dvals, nb * h).reshape(nb, h)
        view[:, 2, :] = svals.reshape(nb, h)
    cost = np.zeros(ncol)
    cost[3 * nb * h: 3 * nb * h + h] = dt * retail
    cost[3 * nb * h + h:] = -dt * feed_in_msat_per_kwh
    cost[s_col[t == h - 1]] = -feed_in_msat_per_kwh      # terminal value of stored energy
    rhs = np.concatenate([np.zeros(nb * h), -net_kw.sum(axis=0)])
    first = t == 0
    rhs[dyn[first]] = soc0_kwh[bat]                      # S_0 − … = S_start
    offset = float(feed_in_msat_per_kwh * soc0_kwh[bat].sum())

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = ncol, nrow
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = rhs, rhs
    lp.offset_ = offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = ncol, nrow
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = rows.astype(np.int32)
    lp.a_matrix_.value_ = vals
    solver = highspy.Highs()  # type: ignore[no-untyped-call]
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("solver", method)
    solver.setOptionValue("threads", 1)
    solver.passModel(lp)
    began = time.perf_counter()
    solver.run()
    took = time.perf_counter() - began
    status = solver.modelStatusToString(solver.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"HiGHS: {status}")
    x = np.asarray(solver.getSolution().col_value)
    grid = x[3 * nb * h: 3 * nb * h + h] - x[3 * nb * h + h:]
    return Optimum(cost_msat=float(solver.getInfo().objective_function_value),
                   import_kw=np.repeat(grid, b), status=status, solve_s=took, block=b,
                   columns=ncol, rows=nrow)
