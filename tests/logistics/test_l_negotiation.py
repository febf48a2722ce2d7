"""Slot negotiations through the signed wire (logistics/negotiate.py, logistics/wire.py):
every negotiation terminates, no agreement outside either reservation, no slot sold
beyond its capacity and no lot beyond its parcels; forged, replayed and misrouted moves
are dropped and counted."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain.negotiation import Move
from logistics.negotiate import Rules, Side, clear_slot
from logistics.wire import SignedWire

CARRIERS = [f"carrier-{i}" for i in range(4)]
SHIPPERS = [f"shipper-{i}" for i in range(6)]
WIRE = SignedWire([*CARRIERS, *SHIPPERS], "logistics", 7)
prices = st.integers(1, 20_000_000)


@st.composite
def sides(draw: st.DrawFn, names: list[str], most: int) -> list[Side]:
    n = draw(st.integers(1, len(names)))
    out = []
    for i in range(n):
        start, reservation = draw(prices), draw(prices)
        out.append(Side(i, names[i], draw(st.integers(1, most)), start, reservation))
    return out


@settings(max_examples=120, deadline=None)
@given(sellers=sides(CARRIERS, 40), buyers=sides(SHIPPERS, 12), rounds=st.integers(1, 5),
       offers=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_slot_clearing_respects_capacity_needs_and_reservations(
        sellers: list[Side], buyers: list[Side], rounds: int, offers: int, seed: int) -> None:
    rules = Rules(rounds, 0.0012, offers, 3600.0)
    before = WIRE.counters["moves_sent"]
    log = clear_slot(17, sellers, buyers, 0.0, rules, WIRE, np.random.default_rng(seed), [0])
    assert log.sessions <= offers * len(sellers)           # it terminates, and bounded
    sold = dict.fromkeys(range(len(sellers)), 0)
    bought = dict.fromkeys(range(len(buyers)), 0)
    for a in log.agreed:
        seller, buyer = sellers[a.slot], buyers[a.lot]
        assert seller.reservation_msat <= a.price_msat <= buyer.reservation_msat
        assert a.amount_msat == a.parcels * a.price_msat
        sold[a.slot] += a.parcels
        bought[a.lot] += a.parcels
    assert all(sold[i] <= s.quantity for i, s in enumerate(sellers))
    assert all(bought[j] <= b.quantity for j, b in enumerate(buyers))
    # Each session: an offer, at most `rounds` counters each way, an accept or reject and
    # a confirm — every one of them signed and verified.
    sent = WIRE.counters["moves_sent"] - before
    assert log.sessions <= sent <= log.sessions * (2 * rounds + 3)
    assert WIRE.counters["moves_verified"] == WIRE.counters["moves_sent"]
    assert len(log.latency_ms) == len(log.simulated_ms) == log.sessions


def test_a_trade_agrees_inside_both_reservations() -> None:
    log = clear_slot(3, [Side(0, CARRIERS[0], 10, 6_000_000, 3_000_000)],
                     [Side(0, SHIPPERS[0], 4, 2_000_000, 9_000_000)], 0.0,
                     Rules(3, 0.0012, 4, 3600.0), WIRE, np.random.default_rng(1), [0])
    assert len(log.agreed) == 1
    a = log.agreed[0]
    assert a.parcels == 4
    assert 3_000_000 <= a.price_msat <= 9_000_000
    assert min(log.simulated_ms) >= 3 * 1.2                 # offer, accept, confirm at least


def test_no_overlap_no_trade() -> None:
    log = clear_slot(3, [Side(0, CARRIERS[0], 10, 6_000_000, 5_000_000)],
                     [Side(0, SHIPPERS[0], 4, 2_000_000, 4_000_000)], 0.0,
                     Rules(3, 0.0012, 4, 3600.0), WIRE, np.random.default_rng(1), [0])
    assert log.agreed == []
    assert log.sessions == 4                                # re-offered until its cap


def _offer(trade: str = "ab" * 16) -> Move:
    return Move("offer", trade, 9, CARRIERS[1], "", 0, 5, 4_000_000, 3600.0)


def test_forged_replayed_and_misrouted_moves_are_dropped() -> None:
    wire = SignedWire([CARRIERS[1], SHIPPERS[1]], "logistics", 3)
    topic, payload = wire.encode(_offer(), 1.0, introduce=True)
    assert wire.receive(SHIPPERS[1], topic, payload) == _offer()
    assert wire.receive(SHIPPERS[1], topic, payload) is None          # the same seq again
    assert wire.counters["moves_replayed"] == 1
    topic, payload = wire.encode(_offer("cd" * 16), 1.0, introduce=False)
    forged = payload.replace(b'"energy_wh":5', b'"energy_wh":6')
    assert wire.receive(SHIPPERS[1], topic, forged) is None
    assert wire.counters["moves_forged"] == 1
    assert wire.receive(SHIPPERS[1], topic.replace(CARRIERS[1], SHIPPERS[1]), payload) is None
    assert wire.counters["moves_wrong_topic"] == 1
    assert wire.receive(SHIPPERS[1], topic, b"{not json") is None
    assert wire.counters["moves_invalid"] == 1


def test_a_move_without_a_known_binding_is_unbound() -> None:
    wire = SignedWire([CARRIERS[2], SHIPPERS[2]], "logistics", 3)
    move = Move("offer", "ef" * 16, 9, CARRIERS[2], "", 0, 5, 4_000_000, 3600.0)
    topic, payload = wire.encode(move, 1.0, introduce=False)
    assert wire.receive(SHIPPERS[2], topic, payload) is None
    assert wire.counters["moves_unbound"] == 1
