"""The two baselines: no market (first come, first served) and the central optimum.

First come, first served: carriers post a list price per parcel (cost × (1 + markup));
shippers book in the order they arrive (a random order), each lot in turn by its wanted
window: for each of its windows — the wanted one, then the earlier ones it accepts
(latest first), then the later ones (late) — the cheapest listed slot of its zone with
capacity left whose price does not exceed the parcel's value there, as many parcels as it
has room for, until the lot is booked or nothing fits. Nothing is negotiated; payments at
the list price are transfers and are not sent over the channel graph.

Central optimum: the transport LP over every lot and slot (`logistics.optimum.assign`),
each parcel paying its slot's dual price (the Walrasian prices that support it).
"""

from __future__ import annotations

import numpy as np

from logistics.agents import City
from logistics.market import MarketRun
from logistics.optimum import Assignment, Demand, Supply, assign


def _order(due: int, ready: int, windows: int) -> list[int]:
    return [due, *range(due - 1, ready - 1, -1), *range(due + 1, windows)]


def first_come(city: City, rng: np.random.Generator) -> MarketRun:
    lots, s = city.lots, city.slots
    n = len(city.carriers) + len(city.shippers)
    out = MarketRun(np.zeros((lots.size, city.windows)), np.zeros(s.size, dtype=np.int64),
                    np.zeros(n), np.zeros(n))
    left = s.capacity.copy()
    by_slot: dict[tuple[int, int], list[int]] = {}
    for j in np.argsort(s.list_msat, kind="stable").tolist():
        by_slot.setdefault((int(s.zone[j]), int(s.window[j])), []).append(j)
    lots_of: dict[int, list[int]] = {}
    for i in np.lexsort((lots.ready, lots.due)).tolist():
        lots_of.setdefault(int(lots.shipper[i]), []).append(i)
    for shipper in rng.permutation(len(city.shippers)).tolist():
        buyer = len(city.carriers) + shipper
        for i in lots_of.get(shipper, []):
            need = int(lots.parcels[i])
            for k in _order(int(lots.due[i]), int(lots.ready[i]), city.windows):
                value = int(city.value[i, k])
                for j in by_slot.get((int(lots.zone[i]), k), []):
                    if need == 0 or value <= 0:
                        break
                    q = min(need, int(left[j]))
                    if q == 0 or s.list_msat[j] > value:
                        continue
                    left[j] -= q
                    need -= q
                    out.delivered[i, k] += q
                    amount = q * int(s.list_msat[j])
                    out.paid_msat[buyer] += amount
                    out.received_msat[int(s.carrier[j])] += amount
                    out.trade_price_msat.append(int(s.list_msat[j]))
                    out.trade_window.append(k)
                if need == 0:
                    break
    out.used = s.capacity - left
    return out


def optimum(city: City) -> tuple[MarketRun, Assignment]:
    lots, s = city.lots, city.slots
    n = len(city.carriers) + len(city.shippers)
    a = assign(Demand(lots.zone, lots.parcels, city.value),
               Supply(s.zone, s.window, s.capacity, s.cost_msat), city.zones, city.windows)
    out = MarketRun(a.per_lot(lots.size, city.windows), a.carried.astype(np.int64),
                    np.zeros(n), np.zeros(n))
    price = np.nan_to_num(a.price_msat)
    for lot, k, q in zip(a.lot.tolist(), a.window.tolist(), a.parcels.tolist(), strict=True):
        out.paid_msat[len(city.carriers) + int(lots.shipper[lot])] += q * price[
            lots.zone[lot], k]
        out.trade_price_msat.append(round(float(price[lots.zone[lot], k])))
        out.trade_window.append(k)
    # Each carrier is paid its slots' price for what they carry.
    for j in np.flatnonzero(a.carried > 0).tolist():
        out.received_msat[int(s.carrier[j])] += a.carried[j] * price[s.zone[j], s.window[j]]
    return out, a
