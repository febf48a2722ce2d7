"""The central optimum: which parcels go in which slot, one transport LP solved by HiGHS.

Per lot l (a shipper's parcels for one zone, n_l of them, worth v_l,k per parcel in window
k) and carrier slot s (zone z_s, window k_s, capacity c_s, cost per parcel m_s):

    maximise   Σ_l,k v_l,k·x_l,k − Σ_s m_s·y_s                  (welfare, msat)
    subject to Σ_k x_l,k ≤ n_l                                   (each lot's parcels)
               Σ_{l in z} x_l,k − Σ_{s: z_s=z, k_s=k} y_s = 0     (zone z, window k)
               0 ≤ y_s ≤ c_s,  x_l,k ≥ 0 only where the lot can be delivered in k

It is a network flow (lots → zone × window → carriers), so the LP's vertices are whole
parcels: the optimum is an assignment, not a fractional plan. The dual of the zone ×
window balance is the price of a parcel delivered there: what one more unit of slot
capacity would add to welfare (the coordinator's signal, `logistics.coordinator`).

Pure: numpy and the HiGHS solver (highspy), no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meanfield.highs import INF, LpError, Triplets, solve_lp

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class AssignError(RuntimeError):
    """HiGHS found no optimal assignment."""


@dataclass(frozen=True)
class Supply:
    """Slot capacity: one row per carrier slot (or an aggregate of slots)."""

    zone: Ints
    window: Ints
    capacity: Ints
    cost_msat: Ints


@dataclass(frozen=True)
class Demand:
    """Parcels wanting slots: one row per lot (or per type of lots)."""

    zone: Ints
    parcels: Ints
    value_msat: Ints   # (rows, windows) per parcel; ≤ 0 where it cannot be delivered


@dataclass(frozen=True)
class Assignment:
    lot: Ints             # (F,) the demand row of each flow
    window: Ints          # (F,)
    parcels: Floats       # (F,)
    carried: Floats       # (slots,) parcels each supply row carries
    price_msat: Floats    # (zones, windows) per parcel; NaN where no slot exists
    welfare_msat: float
    solve_s: float

    def per_lot(self, rows: int, windows: int) -> Floats:
        out = np.zeros((rows, windows))
        np.add.at(out, (self.lot, self.window), self.parcels)
        return out


def assign(demand: Demand, supply: Supply, zones: int, windows: int,
           method: str = "simplex") -> Assignment:
    """The welfare-maximising assignment of parcels to slots and the slots' prices."""
    value = np.asarray(demand.value_msat, dtype=np.float64)
    lot, win = np.nonzero(value > 0)
    nf, ns, nl = lot.size, supply.zone.size, demand.parcels.size
    bal_x = nl + demand.zone[lot] * windows + win
    bal_y = nl + supply.zone * windows + supply.window
    ncol = nf + ns
    m = Triplets()
    m.add(np.concatenate([lot, bal_x]), np.concatenate([np.arange(nf), np.arange(nf)]), 1.0)
    m.add(bal_y, nf + np.arange(ns), -1.0)
    cost = np.concatenate([-value[lot, win], supply.cost_msat.astype(np.float64)])
    upper = np.concatenate([demand.parcels[lot].astype(np.float64),
                            supply.capacity.astype(np.float64)])
    row_lower = np.concatenate([np.full(nl, -INF), np.zeros(zones * windows)])
    row_upper = np.concatenate([demand.parcels.astype(np.float64), np.zeros(zones * windows)])
    try:
        sol = solve_lp(cost, np.zeros(ncol), upper, row_lower, row_upper, m.csc(ncol),
                       method=method)
    except LpError as exc:
        raise AssignError(str(exc)) from exc
    x, took = sol.x, sol.solve_s
    if x.size and float(np.max(np.abs(x - np.round(x)))) > 1e-6:
        raise AssignError("HiGHS returned a fractional vertex of a network-flow LP")
    # ∂(−welfare)/∂rhs of a balance row: one parcel more delivered than carried there,
    # i.e. one unit of free capacity, lowers −welfare by the slot's price.
    price = -sol.duals[nl:].reshape(zones, windows)
    exists = np.zeros(zones * windows, dtype=bool)
    exists[supply.zone * windows + supply.window] = True
    price[~exists.reshape(zones, windows)] = np.nan
    flows = np.round(x[:nf])
    carried = np.round(x[nf:])
    welfare = float(np.sum(flows * value[lot, win]) - np.sum(carried * supply.cost_msat))
    keep = flows > 0
    return Assignment(lot[keep].astype(np.int64), win[keep].astype(np.int64), flows[keep],
                      carried, price, welfare, took)
