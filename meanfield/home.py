"""Each home's own battery plan (EMHASS-style home optimiser), for many homes in one LP.

Every battery home plans alone, as a price taker, over the next H steps: its energy is
worth the community price p_t both ways (in the community market a home's import is met
by neighbours at p_t or, when the community itself imports, at retail = p_t; its export
is sold at p_t or, when the community exports, at feed-in = p_t), its own peak import of
each billing period costs the capacity rate × `capacity_share` (its share of the
coincident charge per kW of its own peak), and the energy left at the end is worth the
terminal value. Per home b and step t (kW, kWh):

    minimise  Σ_t dt·p_t·(I_bt − E_bt) + cap·Σ_q P_bq + wear·dt·Σ_t (c_bt + d_bt) − v·S_bH
    s.t.      S_bt = S_b,t−1 + √η·dt·c_bt − dt/√η·d_bt,  0 ≤ c, d ≤ power_b,  S in [min, max]
              mean_bt + c_bt − d_bt = I_bt − E_bt,  I, E ≥ 0          (expected energy)
              q_bt + c_bt − d_bt ≤ P_b,period(t),  P_b0 ≥ peak so far   (the peak, at q)

The energy cost is linear, so its expectation is the cost of the mean; the peak is
convex, so the tail matters: `q` is a quantile of the home's net load (mean + z × spread:
a chance constraint P(import_t > P) ≤ α on each step, Gaussian errors), and the battery
must hold back what that tail needs. With `q = mean` the plan is the means-only variant.

The homes do not interact inside the programme (block diagonal: one HiGHS call for each
`CHUNK` of them, faster than one call for all or one call each). Pure: numpy and HiGHS
(highspy), no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from meanfield.highs import INF, Triplets, solve_lp

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class HomeBatteries:
    capacity_kwh: Floats     # (B,)
    power_kw: Floats         # (B,)
    stored_kwh: Floats       # (B,) now
    min_kwh: Floats          # (B,)
    max_kwh: Floats          # (B,)
    efficiency: float = 0.9  # round trip


@dataclass(frozen=True)
class HomeHorizon:
    mean_kw: Floats          # (B, H) each home's expected net load (load − PV)
    peak_kw: Floats          # (B, H) the net load its peak is planned against (≥ mean)
    price: Floats            # (H,) the community price per kWh
    dt_h: float
    capacity_per_kw: float   # per kW of each home's own peak in a billing period
    period: Ints             # (H,) billing period of each step
    peak_so_far_kw: Floats   # (B,) each home's own peak in the current period
    terminal_per_kwh: float
    wear_per_kwh: float = 0.0
    export_price: Floats | None = None  # (H,) per kWh exported; None: `price` both ways
    # (a home alone on a tariff, e.g. CityLearn's outside check, earns feed-in, not p_t)


@dataclass(frozen=True)
class HomePlan:
    power_kw: Floats         # (B, H) + charge
    stored_kwh: Floats       # (B, H) at the end of each step
    peak_kw: Floats          # (B, periods)
    solve_s: float


CHUNK = 50   # homes per HiGHS call: the programmes are independent, and HiGHS's time grows
# faster than their number (2,000 homes × 24 steps, interior point with crossover: 7.3 s
# in one call, 3.2 s in chunks of 50; dual simplex would take 1.7 s but picks other plans
# among equally cheap ones, and those did worse: CityLearn cost 0.902 vs 0.873 of no
# control, the spread's gain in the simulator not significant; measured 2026-12-05)


def plan_homes(h: HomeHorizon, b: HomeBatteries) -> HomePlan:
    """Every home's own optimal plan (see the module doc), `CHUNK` homes per LP."""
    nb = h.mean_kw.shape[0]
    if nb <= CHUNK:
        return _plan_chunk(h, b)
    parts = []
    for lo in range(0, nb, CHUNK):
        at = slice(lo, lo + CHUNK)
        parts.append(_plan_chunk(
            replace(h, mean_kw=h.mean_kw[at], peak_kw=h.peak_kw[at],
                    peak_so_far_kw=np.asarray(h.peak_so_far_kw)[at]),
            HomeBatteries(b.capacity_kwh[at], b.power_kw[at], b.stored_kwh[at],
                          b.min_kwh[at], b.max_kwh[at], b.efficiency)))
    return HomePlan(power_kw=np.vstack([p.power_kw for p in parts]),
                    stored_kwh=np.vstack([p.stored_kwh for p in parts]),
                    peak_kw=np.vstack([p.peak_kw for p in parts]),
                    solve_s=sum(p.solve_s for p in parts))


def _plan_chunk(h: HomeHorizon, b: HomeBatteries) -> HomePlan:
    nb, steps = h.mean_kw.shape
    dt = h.dt_h
    eta = math.sqrt(b.efficiency)
    period = np.asarray(h.period, dtype=np.int64) - int(h.period[0])
    periods = int(period.max()) + 1
    n = nb * steps
    k = np.repeat(np.arange(nb), steps)
    t = np.tile(np.arange(steps), nb)
    # Columns: c, d, s, I, E (each B·H, home-major), then P (B·periods).
    c_col = np.arange(n)
    d_col, s_col, i_col, e_col = c_col + n, c_col + 2 * n, c_col + 3 * n, c_col + 4 * n
    p_col = 5 * n + k * periods + period[t]
    ncol = 5 * n + nb * periods
    dyn, bal, pk = np.arange(n), n + np.arange(n), 2 * n + np.arange(n)
    later = t > 0
    m = Triplets()
    m.storage(dyn, c_col, d_col, s_col, later, eta, dt)
    m.add(bal, c_col, 1.0)
    m.add(bal, d_col, -1.0)
    m.add(bal, i_col, -1.0)
    m.add(bal, e_col, 1.0)
    m.add(pk, c_col, 1.0)
    m.add(pk, d_col, -1.0)
    m.add(pk, p_col, -1.0)
    lower, upper = np.zeros(ncol), np.full(ncol, INF)
    upper[c_col] = b.power_kw[k]
    upper[d_col] = b.power_kw[k]
    lower[s_col], upper[s_col] = b.min_kwh[k], b.max_kwh[k]
    first_p = 5 * n + np.arange(nb) * periods
    lower[first_p] = np.maximum(0.0, h.peak_so_far_kw)
    cost = np.zeros(ncol)
    price = np.asarray(h.price, dtype=np.float64)[t]
    cost[i_col] = dt * price
    sell = price if h.export_price is None else np.asarray(h.export_price, np.float64)[t]
    cost[e_col] = -dt * sell
    cost[c_col] += dt * h.wear_per_kwh
    cost[d_col] += dt * h.wear_per_kwh
    cost[5 * n:] = h.capacity_per_kw
    cost[s_col[t == steps - 1]] = -h.terminal_per_kwh
    mean = np.asarray(h.mean_kw, dtype=np.float64).reshape(-1)
    peak_net = np.asarray(h.peak_kw, dtype=np.float64).reshape(-1)
    row_lo = np.concatenate([np.zeros(n), -mean, np.full(n, -INF)])
    row_hi = np.concatenate([np.zeros(n), -mean, -peak_net])
    first = dyn[t == 0]
    row_lo[first] = row_hi[first] = np.clip(b.stored_kwh, b.min_kwh, b.max_kwh)
    sol = solve_lp(cost, lower, upper, row_lo, row_hi, m.csc(ncol))
    x = sol.x
    return HomePlan(power_kw=(x[c_col] - x[d_col]).reshape(nb, steps),
                    stored_kwh=x[s_col].reshape(nb, steps),
                    peak_kw=x[5 * n:].reshape(nb, periods), solve_s=sol.solve_s)


def coincidence(mean_kw: Floats) -> float:
    """The community's coincident peak over the sum of its homes' own peaks (≤ 1), from
    the forecasts (N, H): what one kW more of a home's own peak adds to its share of a
    charge on the coincident peak, per kW of the rate."""
    own = np.maximum(0.0, mean_kw).max(axis=1).sum()
    top = max(0.0, float(mean_kw.sum(axis=0).max()))
    return float(min(1.0, top / own)) if own > 0 else 1.0


@dataclass(frozen=True)
class Receding:
    """How a home re-plans (the simulator's `--control mpc` and the daemon's
    `[battery] control = "mpc"` alike): an LP over hourly blocks of the interval forecast,
    solved again every `every` intervals; the peak rows at mean + `peak_z` × spread."""

    block: int = 4           # intervals per planning block (an hour of 15-minute intervals)
    every: int = 4           # re-plan every hour
    peak_z: float = 1.2816   # chance constraint: P(import above the planned peak) ≤ 10 %


def receding_for(interval_s: int) -> Receding:
    """Hourly blocks, re-planned every hour, for intervals of `interval_s` seconds."""
    per_hour = max(1, 3600 // interval_s)
    return Receding(block=per_hour, every=per_hour)


def blocked(a: Floats, block: int) -> Floats:
    """(…, S) → (…, S // block): each whole block's mean (a partial last block is dropped)."""
    arr = np.asarray(a, dtype=np.float64)
    whole = arr.shape[-1] // block
    out: Floats = arr[..., :whole * block].reshape(*arr.shape[:-1], whole, block).mean(axis=-1)
    return out


def capacity_share(mean_kw: Floats, block: int) -> float:
    """`coincidence` of the homes' forecasts (N, S), on the planning blocks: what the
    coordinator publishes as each home's share of the coincident charge per kW."""
    return coincidence(blocked(mean_kw, block))


@dataclass(frozen=True)
class HomeInputs:
    """One re-plan's inputs, per interval from now (B homes, S intervals, € and kW)."""

    mean_kw: Floats          # (B, S)
    std_kw: Floats           # (B, S) (0 for the means-only variant)
    price: Floats            # (S,) the community price, inside [feed-in, retail]
    period: Ints             # (S,) billing period of each interval
    interval_h: float
    capacity_per_kw: float   # the rate per kW of own peak and period, × the home's share
    peak_so_far_kw: Floats   # (B,)
    terminal_per_kwh: float
    wear_per_kwh: float


def plan_receding(x: HomeInputs, b: HomeBatteries, r: Receding, z: float) -> HomePlan:
    """The plan from now on the blocks (`plan_homes`); its step j is block j."""
    blk = r.block
    steps = x.mean_kw.shape[1] // blk * blk
    mean = blocked(x.mean_kw[:, :steps], blk)
    std = blocked(x.std_kw[:, :steps], blk)
    horizon = HomeHorizon(
        mean_kw=mean, peak_kw=mean + z * std, price=blocked(x.price[:steps], blk),
        dt_h=blk * x.interval_h, capacity_per_kw=x.capacity_per_kw,
        period=np.asarray(x.period[:steps:blk], dtype=np.int64),
        peak_so_far_kw=x.peak_so_far_kw, terminal_per_kwh=x.terminal_per_kwh,
        wear_per_kwh=x.wear_per_kwh)
    return plan_homes(horizon, b)
