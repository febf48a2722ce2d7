"""Reputation and trading on the meters: the pure rules the daemon and the simulator share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import expost, reputation
from agent.domain.market import IntervalClock
from agent.domain.reputation import PeerRecord
from sim import market
from sim.scenario import MarketSpec


@pytest.mark.parametrize(("record", "standing"), [
    pytest.param(PeerRecord(), "trusted", id="clean"),
    pytest.param(PeerRecord(unpaid=1), "refused", id="one-unpaid-agreement"),
    pytest.param(PeerRecord(unanswered=1), "deprioritised", id="silent-once"),
    pytest.param(PeerRecord(undelivered=2), "deprioritised", id="undelivered-twice"),
    pytest.param(PeerRecord(unanswered=2, undelivered=1), "refused", id="three-failures"),
])
def test_standing_table(record: PeerRecord, standing: str) -> None:
    assert reputation.standing(record) == standing


def test_a_deprioritised_peer_is_served_late_a_refused_one_never() -> None:
    late = PeerRecord(unanswered=1)
    assert not reputation.serves(late, 0.1)
    assert reputation.serves(late, 0.9)
    assert not reputation.serves(PeerRecord(unpaid=1), 1.0)
    assert reputation.serves(PeerRecord(), 0.0)


def test_the_record_from_journal_events() -> None:
    got = reputation.of_events(["unpaid", "unanswered", "unpayable", "undelivered"])
    assert got == PeerRecord(unpaid=1, unanswered=1, undelivered=2)


@given(imp=st.floats(0, 5000), exp=st.floats(0, 5000))
def test_a_position_never_exceeds_the_meter(imp: float, exp: float) -> None:
    pos = expost.position(imp, exp)
    if pos.side == "sell":
        assert 0 < pos.energy_wh <= exp - imp
    elif pos.side == "buy":
        assert 0 < pos.energy_wh <= imp - exp
    else:
        assert abs(imp - exp) < expost.MIN_TRADE_WH


@given(e=st.integers(1, 10_000), price=st.integers(80_000, 400_000),
       fee=st.integers(0, 20_000))
def test_the_amount_leaves_nobody_worse_off_than_the_tariff(e: int, price: int,
                                                            fee: int) -> None:
    retail, feed_in = 400_000, 80_000
    amount = expost.amount_msat(e, price, retail, feed_in, fee)
    if amount is None:
        assert e < expost.min_trade_wh(retail, feed_in, fee)
        return
    assert (amount + fee) * 1000 <= e * retail   # the buyer: at most retail with the fee
    assert amount * 1000 >= e * feed_in          # the seller: at least feed-in


def test_the_window_runs_in_the_next_interval() -> None:
    iv = IntervalClock(900, 0.2)
    assert expost.window_deadline_s(iv, 10) == 12 * 900 - 180


def test_the_simulators_sellers_refuse_by_the_same_rule() -> None:
    """A buyer that does not pay is refused by that seller at its next agreement."""
    names = ["s", "b"]
    spec = MarketSpec(max_offers_per_interval=4)
    records: dict[int, dict[int, PeerRecord]] = {}
    rng = np.random.default_rng(0)
    p = np.array([100_000])
    sellers = market.Book(np.array([0]), np.array([500]), p, p)
    buyers = market.Book(np.array([1]), np.array([500]), p, p)
    silent = np.zeros(2, dtype=bool)
    first = market.clear(0, sellers, buyers, names, 0.0, 100.0, spec, silent, rng,
                         lambda *_: False, records)
    assert first.unpaid == 1
    assert reputation.standing(records[0][1]) == "refused"
    again = market.clear(1, sellers, buyers, names, 0.0, 100.0, spec, silent, rng,
                         lambda *_: True, records)
    assert again.refused >= 1
    assert again.energy_wh == []
