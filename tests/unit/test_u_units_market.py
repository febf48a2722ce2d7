"""Money and market-time units: integer msat, half-up rounding, peak tariff, intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain.market import IntervalClock, Terms
from agent.domain.units import (
    MSAT_PER_BTC,
    Tariff,
    amount_msat,
    eur_to_msat,
    msat_to_eur,
    tariff_from_eur,
)


@pytest.mark.parametrize(("energy_wh", "price", "expected"), [
    (0, 123_456, 0),
    (1_000, 250_000, 250_000),        # 1 kWh at the price per kWh
    (1, 499, 0),                      # 0.499 msat rounds down
    (1, 500, 1),                      # 0.5 msat rounds half up
    (1, 1_499, 1),
    (1, 1_500, 2),
    (3, 333, 1),                      # 0.999 → 1
    (750, 270_000, 202_500),
    (1_000_000, 10**10, 10**13),      # the wire's maxima, still exact integers
])
def test_amount_msat_table(energy_wh: int, price: int, expected: int) -> None:
    assert amount_msat(energy_wh, price) == expected
    assert Terms("t" * 32, 1, "s", "b", energy_wh, price).amount_msat == expected


@pytest.mark.parametrize(("energy_wh", "price"), [(-1, 100), (100, -1), (-5, -5)])
def test_amount_msat_refuses_negatives(energy_wh: int, price: int) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        amount_msat(energy_wh, price)


@given(e=st.integers(0, 10**7), p=st.integers(0, 10**11))
def test_amount_msat_is_the_nearest_integer_half_up(e: int, p: int) -> None:
    a = amount_msat(e, p)
    assert isinstance(a, int)
    assert a >= 0
    exact_thousandths = e * p
    assert a * 1000 - 500 <= exact_thousandths < a * 1000 + 500


@given(e=st.integers(0, 10**6), p=st.integers(0, 10**9), e2=st.integers(0, 10**6))
def test_amount_msat_is_monotone_in_energy(e: int, p: int, e2: int) -> None:
    lo, hi = sorted((e, e2))
    assert amount_msat(lo, p) <= amount_msat(hi, p)


@pytest.mark.parametrize(("eur", "eur_per_btc", "msat"), [
    (0.30, 90_000.0, 333_333),        # 0.30 € at 90 k€/BTC
    (0.08, 90_000.0, 88_889),
    (90_000.0, 90_000.0, MSAT_PER_BTC),
    (0.0, 50_000.0, 0),
])
def test_eur_to_msat_table(eur: float, eur_per_btc: float, msat: int) -> None:
    assert eur_to_msat(eur, eur_per_btc) == msat


@given(msat=st.integers(0, 10**13), rate=st.floats(1_000.0, 1_000_000.0))
def test_msat_eur_msat_round_trip_is_exact(msat: int, rate: float) -> None:
    assert eur_to_msat(msat_to_eur(msat, rate), rate) == msat


@given(eur=st.floats(0.0, 10_000.0), rate=st.floats(1_000.0, 1_000_000.0))
def test_eur_msat_eur_round_trip_within_half_a_msat(eur: float, rate: float) -> None:
    back = msat_to_eur(eur_to_msat(eur, rate), rate)
    half_msat_eur = 0.5 * rate / MSAT_PER_BTC
    assert abs(back - eur) <= half_msat_eur * (1 + 1e-9) + 1e-12


HOUR = 3600.0
DAY = 86_400.0
TARIFF = Tariff(retail_msat_per_kwh=300, peak_retail_msat_per_kwh=400, feed_in_msat_per_kwh=80)


@pytest.mark.parametrize(("t_s", "price"), [
    (0.0, 300),
    (17 * HOUR - 1, 300),
    (17 * HOUR, 400),                 # peak starts at 17:00 UTC
    (20 * HOUR + 3599.9, 400),
    (21 * HOUR, 300),                 # and ends before 21:00
    (23 * HOUR + 59 * 60, 300),
    (DAY * 19_000 + 18 * HOUR, 400),  # any day
    (DAY * 19_000 + 9 * HOUR, 300),
])
def test_retail_at_peak_hours(t_s: float, price: int) -> None:
    assert TARIFF.retail_at(t_s) == price


def test_custom_peak_window() -> None:
    t = Tariff(300, 500, 80, peak_hours=(7, 9))
    assert [t.retail_at(h * HOUR) for h in (6, 7, 8, 9)] == [300, 500, 500, 300]


def test_tariff_from_eur() -> None:
    t = tariff_from_eur(0.30, 0.40, 0.08, 90_000.0)
    assert t == Tariff(333_333, 444_444, 88_889)


@pytest.mark.parametrize(("length_s", "t_s", "index"), [
    (900, 0.0, 0),
    (900, 899.999, 0),
    (900, 900.0, 1),
    (900, 1.7e9, 1_888_888),
    (60, 59.5, 0),
    (900, -0.5, -1),
])
def test_interval_index(length_s: int, t_s: float, index: int) -> None:
    assert IntervalClock(length_s).index(t_s) == index


def test_interval_start_and_deadline() -> None:
    c = IntervalClock(900, gate_margin=0.2)
    assert c.start_s(10) == 9_000.0
    assert c.deadline_s(10) == 9_000.0 - 180.0
    assert IntervalClock(900).gate_margin == 0.2
    assert IntervalClock(60, gate_margin=0.5).deadline_s(1) == 30.0


@settings(max_examples=500)
@given(length_s=st.integers(1, 3600), t_s=st.floats(0.0, 4e9), margin=st.floats(0.01, 0.89))
def test_interval_contains_its_time_and_gate_precedes_start(length_s: int, t_s: float,
                                                             margin: float) -> None:
    c = IntervalClock(length_s, gate_margin=margin)
    k = c.index(t_s)
    assert c.start_s(k) <= t_s < c.start_s(k + 1)
    assert c.start_s(k - 1) < c.deadline_s(k) < c.start_s(k)


def test_start_offset_is_deterministic_and_spread_evenly() -> None:
    from agent.domain.market import start_offset

    ids = [f"h{i:05d}" for i in range(2000)]
    offsets = [start_offset(a, 0.25) for a in ids]
    assert offsets == [start_offset(a, 0.25) for a in ids]  # a pure function of the id
    assert all(0.0 <= x < 0.25 for x in offsets)
    counts = np.histogram(offsets, bins=5, range=(0.0, 0.25))[0]
    assert counts.min() > 300, counts  # about 400 a fifth: no burst
    assert start_offset("h00001", 0.0) == 0.0
    with pytest.raises(ValueError, match="spread"):
        start_offset("h00001", 1.5)
