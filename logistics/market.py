"""The decentralised slot market: booking rounds, each on a coordinator signal (or none).

Before the delivery day, the market runs `signals` booking rounds up to gate closure.
In each round:

1. with a coordinator (`peerwatt`): every agent reports (lots' open parcels, slots'
   capacity left and cost) and the coordinator publishes each slot's price and the mean
   field of slot demand (`logistics.coordinator.signal`); each open lot subscribes to the
   slot of its zone with the largest value minus price (none if every one is negative),
   each carrier offers the slots whose cost is at most the price (every slot with
   capacity in the last round); openings sit `opening_spread` either side of the price.
   Without one (`no_signal`): each lot subscribes to its most valuable window it has not
   tried yet (the wanted one first), every carrier offers every slot, and both open
   twice the spread away from their own reservation;
2. each slot clears through the negotiation (`logistics.negotiate.clear_slot`);
3. each agreement is paid over the channel graph, shipper → carrier, its amount the
   terms' (`sim.settle.Ledger`); an unpaid trade is cancelled, its parcels and capacity
   go back to the next round.

Reservation prices are each side's utility (`logistics.agents`): a lot's value per parcel
in the slot's window, a carrier's cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from logistics.agents import City
from logistics.coordinator import SlotSignal, signal
from logistics.negotiate import Agreed, Rules, Side, clear_slot
from logistics.wire import SignedWire
from sim.settle import Ledger

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass
class MarketRun:
    delivered: Floats                  # (lots, windows) parcels
    used: Ints                         # (slots,) parcels carried
    paid_msat: Floats                  # (agents,) + paid by shippers (fees included)
    received_msat: Floats              # (agents,) received by carriers
    fees_msat: float = 0.0
    sessions: int = 0
    agreements: int = 0
    cancelled: int = 0
    latency_ms: list[float] = field(default_factory=list)
    simulated_ms: list[float] = field(default_factory=list)
    trade_price_msat: list[int] = field(default_factory=list)     # per parcel, per trade
    trade_window: list[int] = field(default_factory=list)
    signals: list[SlotSignal] = field(default_factory=list)


def choose(city: City, need: Ints, price: Floats | None, tried: npt.NDArray[np.bool_],
           ) -> Ints:
    """Each lot's window this round (−1: none): its best value minus price, or, without
    prices, its best value among the windows it has not tried; ties to the wanted one."""
    lots = city.lots
    k = np.arange(city.windows)
    value = city.value.astype(np.float64)
    ok = (value > 0) & (need > 0)[:, None]
    if price is None:
        surplus = value
        ok &= ~tried
    else:
        p = price[lots.zone]                  # (lots, windows)
        surplus = value - p
        ok &= np.isfinite(p) & (surplus >= 0)
    score = np.where(ok, surplus - 1e-3 * np.abs(k[None, :] - lots.due[:, None]), -np.inf)
    best = np.argmax(score, axis=1)
    return np.where(np.isfinite(score[np.arange(lots.size), best]), best, -1).astype(np.int64)


def _open(price: float | None, reservation: int, spread: float, seller: bool) -> int:
    if price is None:
        return round(reservation * (1 + 2 * spread)) if seller else \
            round(reservation * (1 - 2 * spread))
    if seller:
        return max(reservation, round(price * (1 + spread)))
    return min(reservation, round(price * (1 - spread)))


def run_market(city: City, wire: SignedWire, ledger: Ledger, rng: np.random.Generator,
               coordinated: bool) -> MarketRun:
    sc, s, lots = city.scenario, city.slots, city.lots
    spec = sc.market
    names = [*city.carriers, *city.shippers]
    shipper_at = len(city.carriers)
    need = lots.parcels.copy()
    left = s.capacity.copy()
    tried = np.zeros((lots.size, city.windows), dtype=bool)
    out = MarketRun(np.zeros((lots.size, city.windows)), np.zeros(s.size, dtype=np.int64),
                    np.zeros(len(names)), np.zeros(len(names)))
    gate_s = spec.booking_hours * 3600.0
    rules = Rules(spec.max_rounds, spec.hop_ms / 1000.0, spec.max_offers_per_slot, gate_s)
    serial = [0]
    for r in range(spec.signals):
        if not (need > 0).any() or not (left > 0).any():
            break
        now_s = r * gate_s / spec.signals
        price: Floats | None = None
        if coordinated:
            sig = signal(city, need, left, spec.value_buckets)
            out.signals.append(sig)
            price = sig.price_msat
        choice = choose(city, need, price, tried)
        last = r == spec.signals - 1
        buyers: dict[int, list[Side]] = {}
        for i in np.flatnonzero(choice >= 0).tolist():
            k = int(choice[i])
            tried[i, k] = True
            slot = city.slot_id(int(lots.zone[i]), k)
            limit = int(city.value[i, k])
            p = None if price is None else float(price[lots.zone[i], k])
            buyers.setdefault(slot, []).append(Side(
                i, names[shipper_at + int(lots.shipper[i])], int(need[i]),
                _open(p, limit, spec.opening_spread, False), limit))
        sellers: dict[int, list[Side]] = {}
        for j in np.flatnonzero(left > 0).tolist():
            z, k, cost = int(s.zone[j]), int(s.window[j]), int(s.cost_msat[j])
            p = None if price is None else float(price[z, k])
            if p is not None and not last and cost > p:
                continue
            sellers.setdefault(city.slot_id(z, k), []).append(Side(
                j, city.carriers[int(s.carrier[j])], int(left[j]),
                _open(p, cost, spec.opening_spread, True), cost))
        agreed: list[Agreed] = []
        for slot in sorted(set(buyers) & set(sellers)):
            log = clear_slot(slot, sellers[slot], buyers[slot], now_s, rules, wire, rng,
                             serial)
            out.sessions += log.sessions
            out.latency_ms += log.latency_ms
            out.simulated_ms += log.simulated_ms
            agreed += log.agreed
        _settle(city, ledger, agreed, need, left, out, names, shipper_at)
    out.used = s.capacity - left
    return out


def _settle(city: City, ledger: Ledger, agreed: list[Agreed], need: Ints, left: Ints,
            out: MarketRun, names: list[str], shipper_at: int) -> None:
    lots, s = city.lots, city.slots
    for a in agreed:
        buyer = shipper_at + int(lots.shipper[a.lot])
        seller = int(s.carrier[a.slot])
        fee = ledger.pay(names[buyer], names[seller], a.amount_msat)
        if fee is None:
            out.cancelled += 1
            continue
        need[a.lot] -= a.parcels
        left[a.slot] -= a.parcels
        out.agreements += 1
        out.delivered[a.lot, int(s.window[a.slot])] += a.parcels
        out.paid_msat[buyer] += a.amount_msat + fee
        out.received_msat[seller] += a.amount_msat
        out.fees_msat += fee
        out.trade_price_msat.append(a.price_msat)
        out.trade_window.append(int(s.window[a.slot]))
