"""One slot's negotiations: the energy market's state machines and wire, for parcels.

A carrier with capacity left in a slot (zone × window) offers it; the broker hands the
offer to one shipper lot holding the slot's shared subscription (here a uniform pick);
the two sessions (`SellerSession`, `BuyerSession` with the `PARCEL` unit) exchange signed
moves (`logistics.wire.SignedWire`) until agreement or rejection, and the carrier offers
what is left (new trade id) until its capacity is sold, no lot is left or it has made
`max_offers` offers — the loop of `sim.market.clear`, with every move signed, encoded,
decoded and verified on the way.

Time: every move costs `hop_ms` of simulated time. Each session's latency is measured on
the wall clock around its code (sessions, signing, encoding, decoding, verifying); its
simulated duration is its hops plus that measured time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from agent.domain.negotiation import BuyerSession, Move, SellerSession
from agent.domain.resource import PARCEL, Unit
from logistics.wire import SignedWire


@dataclass(frozen=True)
class Side:
    """One position in a slot: who, how many parcels, opening and reservation price."""

    index: int          # the slot row (carrier side) or the lot (shipper side)
    name: str
    quantity: int
    start_msat: int
    reservation_msat: int


@dataclass
class Agreed:
    slot: int
    lot: int
    trade_id: str
    parcels: int
    price_msat: int     # per parcel
    amount_msat: int


@dataclass
class SlotLog:
    agreed: list[Agreed] = field(default_factory=list)
    sessions: int = 0
    latency_ms: list[float] = field(default_factory=list)
    simulated_ms: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Rules:
    max_rounds: int
    hop_s: float
    max_offers: int
    deadline_s: float
    unit: Unit = PARCEL


def _session(wire: SignedWire, s: SellerSession, b: BuyerSession, now_s: float,
             hop_s: float) -> int:
    """Deliver signed moves between the sessions until neither answers; the hops made."""
    pending: list[Move] = [s.offer()]
    hops = 0
    buyer_spoke = False
    while pending:
        move = pending.pop()
        hops += 1
        at = now_s + hops * hop_s
        to_seller = move.receiver == s.seller
        receiver = s.seller if to_seller else b.buyer
        # Bindings travel on first contact: the offer, and the buyer's first reply.
        introduce = move.kind == "offer" or (to_seller and not buyer_spoke)
        buyer_spoke = buyer_spoke or to_seller
        got = wire.deliver(move, receiver, at, introduce=introduce)
        if got is None:
            continue
        if to_seller:
            out = s.on_move(got, at)
            if out.agreed is not None:
                pending.append(s.confirm(""))
        else:
            out = b.on_move(got, at)
        pending.extend(out.replies)
    return hops


def clear_slot(slot_id: int, sellers: list[Side], buyers: list[Side], now_s: float,
               rules: Rules, wire: SignedWire, rng: np.random.Generator,
               serial: list[int]) -> SlotLog:
    """Match one slot's carrier offers to the lots that want it."""
    log = SlotLog()
    left = {s.index: s.quantity for s in sellers}
    need = {b.index: b.quantity for b in buyers}
    by_seller = {s.index: s for s in sellers}
    pool = list(buyers)
    offers = dict.fromkeys(left, 0)
    clock = dict.fromkeys(left, 0.0)    # each carrier's simulated time in this round
    active = [s.index for s in sellers if s.quantity > 0]
    while active and pool:
        rng.shuffle(active)
        still = []
        for i in active:
            if not pool:
                break
            seller = by_seller[i]
            if (left[i] <= 0 or offers[i] >= rules.max_offers
                    or now_s + clock[i] >= rules.deadline_s):
                continue
            offers[i] += 1
            p = int(rng.integers(len(pool)))
            buyer = pool[p]
            serial[0] += 1
            trade_id = f"{serial[0]:032x}"
            log.sessions += 1
            started = time.perf_counter()
            s = SellerSession(trade_id, slot_id, seller.name, left[i], seller.start_msat,
                              seller.reservation_msat, rules.deadline_s, rules.max_rounds,
                              unit=rules.unit)
            b = BuyerSession(trade_id, slot_id, buyer.name, seller.name, need[buyer.index],
                             buyer.start_msat, buyer.reservation_msat, rules.deadline_s,
                             rules.max_rounds, unit=rules.unit)
            hops = _session(wire, s, b, now_s + clock[i], rules.hop_s)
            wall_s = time.perf_counter() - started
            clock[i] += hops * rules.hop_s + wall_s
            log.latency_ms.append(wall_s * 1000.0)
            log.simulated_ms.append((hops * rules.hop_s + wall_s) * 1000.0)
            terms = b.terms
            if terms is not None and s.terms == terms:
                q = terms.quantity
                log.agreed.append(Agreed(i, buyer.index, trade_id, q,
                                         terms.price_msat_per_unit, terms.amount_msat))
                left[i] -= q
                need[buyer.index] -= q
                if need[buyer.index] <= 0:
                    pool[p] = pool[-1]
                    pool.pop()
            if left[i] > 0:
                still.append(i)
        active = still
    return log
