"""The generic resource (agent/domain/resource.py): energy's unit prices exactly as before,
energy's utilities are the reservations the decision rules use, parcels price per parcel."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain.decision import BUY, SELL, orders
from agent.domain.market import Terms
from agent.domain.negotiation import BuyerSession, SellerSession
from agent.domain.resource import PARCEL, WH, GridExport, GridImport, value_msat
from agent.domain.units import Tariff, amount_msat

TARIFF = Tariff(retail_msat_per_kwh=333_333, peak_retail_msat_per_kwh=444_444,
                feed_in_msat_per_kwh=88_888)


@settings(max_examples=500)
@given(q=st.integers(0, 1_000_000), p=st.integers(0, 10**10))
def test_energy_unit_prices_as_before(q: int, p: int) -> None:
    assert WH.amount_msat(q, p) == amount_msat(q, p)
    assert Terms("t" * 32, 1, "s", "b", q, p).amount_msat == amount_msat(q, p)
    assert Terms("t" * 32, 1, "s", "b", q, p, WH) == Terms("t" * 32, 1, "s", "b", q, p)


@settings(max_examples=200)
@given(q=st.integers(0, 10_000), p=st.integers(0, 10**9))
def test_a_parcel_is_priced_per_parcel(q: int, p: int) -> None:
    assert PARCEL.amount_msat(q, p) == q * p
    assert Terms("t" * 32, 1, "s", "b", q, p, PARCEL).amount_msat == q * p


def test_negative_quantities_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        PARCEL.amount_msat(-1, 5)


@pytest.mark.parametrize("window", [0, 40, 70, 80, 95])   # off-peak and peak intervals
def test_energy_utilities_are_the_decision_rules_reservations(window: int) -> None:
    """Buyer: the retail tariff of its interval; seller: feed-in — what `orders` uses."""
    retail = GridImport(TARIFF, 900).unit_value_msat(window)
    feed_in = GridExport(TARIFF).unit_value_msat(window)
    assert retail == TARIFF.retail_at(window * 900.0)
    pos = orders([-800.0, 800.0], 0.0, 200_000, feed_in, retail)
    assert list(pos.side) == [SELL, BUY]
    assert list(pos.reservation) == [feed_in, retail]
    assert value_msat(GridImport(TARIFF, 900), WH, window, 1_000) == retail


def test_sessions_price_their_terms_in_their_unit() -> None:
    s = SellerSession("a" * 32, 3, "carrier-0", 7, 5_000, 3_000, 100.0, 3, unit=PARCEL)
    b = BuyerSession("a" * 32, 3, "shipper-0", "carrier-0", 4, 6_000, 9_000, 100.0, 3,
                     unit=PARCEL)
    accept = b.on_move(s.offer(), 1.0).replies[0]
    assert accept.kind == "accept"
    agreed = s.on_move(accept, 1.0).agreed
    assert agreed is not None
    assert agreed.unit is PARCEL
    assert (agreed.quantity, agreed.price_msat_per_unit, agreed.amount_msat) == (4, 5_000,
                                                                                20_000)
    assert b.on_move(s.confirm(""), 1.0).agreed == agreed
