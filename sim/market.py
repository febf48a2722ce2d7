"""One interval's negotiations in memory, through the daemon's own state machines.

The daemon (`agent.services.negotiation`) publishes each seller's offer once; the broker
hands it to one buyer of a shared subscription; the two `SellerSession`/`BuyerSession`
objects exchange counters until agreement, and the seller re-offers what is left (new
trade id) until its energy is sold or the gate closes. Here the broker is a uniform
random pick among the buyers still needing energy, each move is delivered by a function
call, and time is simulated per seller: every move costs `hop_ms`, a buyer that never
answers costs the daemon's `reply_timeout_s` and its jittered back-off. The state
machines see the simulated clock (`now_s`) and enforce the deadline themselves.

Latency is measured on the wall clock around the negotiation code (offer → seller's
agreement, as the daemon journals it); the simulated time (hops, timeouts) is reported
separately. Not simulated: signatures and their checks, the journal, invoices.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from agent.domain import reputation
from agent.domain.decision import MIN_TRADE_WH
from agent.domain.negotiation import BuyerSession, Move, SellerSession
from sim.scenario import MarketSpec

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Book:
    """Open positions of one side: home index, energy (Wh), opening and reservation price."""

    home: Ints
    energy_wh: Ints
    start: Ints
    reservation: Ints


@dataclass
class Cleared:
    seller: list[int] = field(default_factory=list)
    buyer: list[int] = field(default_factory=list)
    energy_wh: list[int] = field(default_factory=list)
    price_msat_per_kwh: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)     # wall clock, negotiation code
    simulated_ms: list[float] = field(default_factory=list)   # hops and timeouts, sim clock
    sessions: int = 0        # offers made (each a negotiation session)
    unanswered: int = 0      # offers that met a silent buyer
    refused: int = 0         # agreements a seller refused: the buyer had failed it before
    unpaid: int = 0          # agreements their buyer left unpaid (not trades)
    offered_wh: int = 0      # sellers' energy on the market at the start


def _exchange(s: SellerSession, b: BuyerSession, offer: Move, now_s: float,
              hop_s: float) -> tuple[int, float]:
    """Deliver moves between the two sessions until neither answers; (hops, agreed at)."""
    pending = [offer]
    hops = 0
    agreed_at = 0.0
    while pending:
        move = pending.pop()
        hops += 1
        at = now_s + hops * hop_s
        if move.receiver == s.seller:
            out = s.on_move(move, at)
            if out.agreed is not None:
                agreed_at = time.perf_counter()
                pending.append(s.confirm(""))
        else:
            out = b.on_move(move, at)
        pending.extend(out.replies)
    return hops, agreed_at


Pay = Callable[[int, int, int, int], bool]


def clear(interval: int, sellers: Book, buyers: Book, names: list[str], now_s: float,
          deadline_s: float, spec: MarketSpec, silent: Bools,
          rng: np.random.Generator, pay: Pay | None = None,
          refused: dict[int, dict[int, reputation.PeerRecord]] | None = None) -> Cleared:
    """Match `sellers` to `buyers` for delivery `interval`; `silent[h]` marks homes that
    take offers but never answer (withholding).

    With `pay(seller_home, buyer_home, energy_wh, price)`, a trade counts only once it is
    paid: a buyer that does not pay leaves the seller's energy unsold (the seller offers it
    again) and is counted in the seller's own records (`refused`: home → its record of
    each buyer, kept across intervals, as each home keeps it in its journal); an offer that
    reaches a buyer the record refuses (`agent.domain.reputation`, the daemon's rule) is
    rejected at agreement, costing the seller a hop."""
    out = Cleared(offered_wh=int(sellers.energy_wh.sum()))
    hop_s = spec.hop_ms / 1000.0
    free = buyers.energy_wh.copy()
    pool = [j for j in range(len(free)) if free[j] >= MIN_TRADE_WH]
    where = {j: p for p, j in enumerate(pool)}
    open_wh = sellers.energy_wh.copy()
    t = np.zeros(len(open_wh))          # each seller's simulated time since `now_s`
    offers = np.zeros(len(open_wh), dtype=np.int64)
    silence = np.zeros(len(open_wh), dtype=np.int64)
    active = [i for i in range(len(open_wh)) if open_wh[i] >= MIN_TRADE_WH]
    serial = 0
    while active and pool:
        rng.shuffle(active)
        still = []
        for i in active:
            if not pool:
                break
            if (open_wh[i] < MIN_TRADE_WH or offers[i] >= spec.max_offers_per_interval
                    or now_s + t[i] >= deadline_s):
                continue
            offers[i] += 1
            j = pool[int(rng.integers(len(pool)))]
            seller, buyer = names[int(sellers.home[i])], names[int(buyers.home[j])]
            serial += 1
            trade_id = f"{interval}-{serial}"
            out.sessions += 1
            started = time.perf_counter()
            s = SellerSession(trade_id, interval, seller, int(open_wh[i]), int(sellers.start[i]),
                              int(sellers.reservation[i]), deadline_s, spec.max_rounds)
            offer = s.offer()
            if silent[buyers.home[j]]:
                # The daemon: silence past reply_timeout_s, then a full-jitter back-off.
                silence[i] += 1
                out.unanswered += 1
                t[i] += hop_s + spec.reply_timeout_s * (
                    1.0 + rng.uniform(0, 2.0 ** min(4, int(silence[i]))))
                still.append(i)
                continue
            silence[i] = 0
            b = BuyerSession(trade_id, interval, buyer, seller, int(free[j]),
                             int(buyers.start[j]), int(buyers.reservation[j]), deadline_s,
                             spec.max_rounds)
            hops, agreed_at = _exchange(s, b, offer, now_s + t[i], hop_s)
            t[i] += hops * hop_s
            terms = b.terms
            sh, bh = int(sellers.home[i]), int(buyers.home[j])
            peers = refused.setdefault(sh, {}) if refused is not None else {}
            record = peers.get(bh, reputation.CLEAN)
            shunned = reputation.standing(record) == "refused"
            if terms is not None and s.terms is not None and agreed_at and (
                    shunned or (pay is not None and not pay(sh, bh, terms.energy_wh,
                                                            terms.price_msat_per_kwh))):
                if shunned:
                    out.refused += 1
                else:
                    out.unpaid += 1
                    peers[bh] = record.add("unpaid")
                still.append(i)
                continue
            if terms is not None and s.terms is not None and agreed_at:
                e = terms.energy_wh
                out.seller.append(int(sellers.home[i]))
                out.buyer.append(int(buyers.home[j]))
                out.energy_wh.append(e)
                out.price_msat_per_kwh.append(terms.price_msat_per_kwh)
                out.latency_ms.append((agreed_at - started) * 1000.0)
                out.simulated_ms.append(t[i] * 1000.0)
                open_wh[i] -= e
                free[j] -= e
                if free[j] < MIN_TRADE_WH:  # unsubscribes: swap-remove from the pool
                    last = pool.pop()
                    if last != j:
                        pool[where[j]] = last
                        where[last] = where[j]
                    del where[j]
            if open_wh[i] >= MIN_TRADE_WH:
                still.append(i)
        active = still
    return out
