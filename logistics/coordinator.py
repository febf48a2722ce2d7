"""The coordinator's signal for delivery slots: the mean field of slot demand per window.

As the energy coordinator does for homes, it sees every agent's report but solves over
types: shippers' open lots are grouped by zone, earliest and wanted window and value
(`value_buckets` quantiles of the value per parcel, each type at its parcels' mean value),
carriers report each slot's remaining capacity and cost. The types' transport LP
(`logistics.optimum.assign`, HiGHS) gives the mean field — how many parcels the
equilibrium puts in each zone × window — and, as its balance duals, each slot's price per
parcel. At those prices a shipper's best slot is the one with the largest value minus
price, and a carrier sells every slot whose cost is below its price: the prices
coordinate who goes where; the bilateral negotiations then set the actual terms.

A slot without capacity left has no price (NaN); a slot's price is never below the
cheapest cost of its remaining capacity (a dual below it, where nothing binds, is lifted
so that no shipper expects a price no carrier takes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from logistics.agents import City, ShipperLot
from logistics.optimum import Demand, Supply, assign

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SlotSignal:
    price_msat: Floats     # (zones, windows) per parcel; NaN where no capacity is left
    demand: Floats         # (zones, windows) the mean field: parcels the equilibrium puts there
    capacity: Ints         # (zones, windows) capacity left
    types: int
    solve_s: float


def _types(city: City, need: Ints, buckets: int) -> tuple[Demand, int]:
    lots = city.lots
    open_ = np.flatnonzero(need > 0)
    values = lots.value_msat[open_]
    edges: Floats = (np.quantile(values, np.linspace(0, 1, buckets + 1)[1:-1])
                     if open_.size else np.zeros(0))
    bucket = np.searchsorted(edges, values, side="right")
    w = city.windows
    key = ((lots.zone[open_] * w + lots.ready[open_]) * w + lots.due[open_]) * buckets + bucket
    uniq, inverse = np.unique(key, return_inverse=True)
    parcels = np.bincount(inverse, weights=need[open_]).astype(np.int64)
    mean_value = np.bincount(inverse, weights=need[open_] * values) / np.maximum(parcels, 1)
    due = (uniq // buckets) % w
    ready = (uniq // (buckets * w)) % w
    zone = uniq // (buckets * w * w)
    value = np.full((uniq.size, w), -1, dtype=np.int64)
    for t in range(uniq.size):
        u = ShipperLot(round(float(mean_value[t])), int(ready[t]), int(due[t]),
                       lots.late_loss)
        for k in range(w):
            v = u.unit_value_msat(k)
            if v is not None:
                value[t, k] = v
    return Demand(zone.astype(np.int64), parcels, value), int(uniq.size)


def signal(city: City, need: Ints, left: Ints, buckets: int) -> SlotSignal:
    """The signal for the lots' open parcels `need` and the slots' capacity `left`."""
    s = city.slots
    z, w = city.zones, city.windows
    demand, types = _types(city, need, buckets)
    have = left > 0
    supply = Supply(s.zone[have], s.window[have], left[have], s.cost_msat[have])
    out = assign(demand, supply, z, w)
    capacity = np.zeros((z, w), dtype=np.int64)
    np.add.at(capacity, (supply.zone, supply.window), supply.capacity)
    cheapest = np.full((z, w), np.inf)
    np.minimum.at(cheapest, (supply.zone, supply.window), supply.cost_msat.astype(float))
    price = np.where(capacity > 0, np.maximum(out.price_msat, cheapest), np.nan)
    mean_field = np.zeros((z, w))
    np.add.at(mean_field, (demand.zone[out.lot], out.window), out.parcels)
    return SlotSignal(price, mean_field, capacity, types, out.solve_s)
