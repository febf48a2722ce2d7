"""The coordinator's equilibrium from reports, the homes' policy that follows it, and the
market on the meters: units from c-rates, prices in the band, trades that cannot hurt."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import follow
from agent.domain.expost import amount_msat
from coordinator.equilibrium import EquilibriumConfig, Reports, Tariff, solve
from sim.expost import pool
from sim.tariff import capacity_charges, periods

H = 16


def _reports(n: int, seed: int) -> Reports:
    rng = np.random.default_rng(seed)
    has = rng.random(n) < 0.5
    cap = np.where(has, rng.uniform(5000, 13500, n), 0.0)
    power = np.where(has, rng.uniform(2500, 5000, n), 0.0)
    mean = rng.normal(0.5, 0.8, (n, H))
    return Reports(np.full(n, 50.0), cap, power, rng.uniform(0, 6, n), mean,
                   np.abs(rng.normal(0.3, 0.1, (n, H))))


def _tariff(capacity: float = 0.0) -> Tariff:
    retail = np.where(np.arange(H) >= 8, 0.40, 0.30)
    return Tariff(retail, 0.08, capacity, np.zeros(H, dtype=np.int64), 0.0, 0.285)


def test_units_are_c_rate_bands_and_their_plans_add_up() -> None:
    r = _reports(80, 1)
    eq = solve(r, _tariff(0.134), EquilibriumConfig(types=4, min_type_size=5))
    k = eq.power_per_kwh.shape[0]
    assert 1 <= k <= 4
    assert eq.crate_edges.size == k + 1
    assert np.all(np.diff(eq.crate_edges) > 0)
    unit = follow.unit_of(eq.crate_edges, r.battery_wh, r.battery_max_w)
    has = r.battery_wh > 0
    assert set(unit[has].tolist()) == set(range(k))
    total = sum(float(follow.setpoint_w(eq.power_per_kwh, eq.crate_edges, 0, r.battery_wh,
                                        r.battery_max_w).sum()) for _ in [0]) / 1000.0
    # The homes' set-points at step 0 add up to the plan's battery power at step 0.
    planned = eq.net_load_kw[0] - eq.planned_for_kw[0]
    assert total == pytest.approx(planned, abs=1e-6)
    assert np.all(eq.price >= 0.08 - 1e-9)
    assert np.all(eq.price <= _tariff().retail + 1e-9)
    assert eq.exploitability < 1e-3


def test_the_plan_is_made_against_the_pessimistic_side() -> None:
    r = _reports(40, 2)
    calm = solve(r, _tariff(), EquilibriumConfig(quantile_z=0.0, min_type_size=5))
    wary = solve(r, _tariff(), EquilibriumConfig(quantile_z=1.0, min_type_size=5))
    assert np.all(wary.planned_for_kw > calm.planned_for_kw)
    assert wary.planned_for_kw - calm.planned_for_kw == pytest.approx(r.std_kw.sum(axis=0))


def test_a_community_without_batteries_still_gets_prices() -> None:
    r = _reports(10, 3)
    r = Reports(r.soc_pct, r.battery_wh * 0, r.battery_max_w * 0, r.pv_kwp, r.mean_kw, r.std_kw)
    eq = solve(r, _tariff())
    assert eq.power_per_kwh.shape == (0, H)
    assert np.all(follow.setpoint_w(eq.power_per_kwh, eq.crate_edges, 0, r.battery_wh,
                                    r.battery_max_w) == 0)
    with pytest.raises(ValueError, match="no reports"):
        solve(Reports(*(np.zeros(0),) * 4, np.zeros((0, H)), np.zeros((0, H))), _tariff())


def test_tracking_absorbs_the_forecast_error() -> None:
    out = follow.tracking_w(np.array([1.0, 1.0, 1.0]), np.array([1.5, 0.5, 3.0]),
                            np.array([5000.0, 5000.0, 0.0]))
    assert list(out) == [-500.0, 500.0, 0.0]


@given(st.integers(20, 5000), st.integers(80_000, 450_000), st.integers(0, 5000))
def test_a_trade_never_costs_a_side_more_than_the_tariff(energy_wh: int, price: int,
                                                         fee: int) -> None:
    retail, feed = 444_444, 88_888
    price = min(max(price, feed), retail)
    amount = amount_msat(energy_wh, price, retail, feed, fee)
    if amount is None:
        return
    assert (amount + fee) * 1000 <= energy_wh * retail      # the buyer, fee included
    assert amount * 1000 >= energy_wh * feed                # the seller


def test_pool_shares_the_short_side_pro_rata() -> None:
    sold, bought, money = pool(np.array([-300.0, -100.0, 200.0, 600.0]), 200_000.0)
    assert list(sold) == pytest.approx([300.0, 100.0, 0.0, 0.0])
    assert list(bought) == pytest.approx([0.0, 0.0, 100.0, 300.0])
    assert float(money.sum()) == pytest.approx(0.0)


def test_capacity_on_the_coincident_peak_adds_up() -> None:
    grid = np.array([[1.0, 3.0, 0.5, 0.2], [2.0, -1.0, 1.0, 4.0]])
    per = periods(0.0, 4, 21600)
    assert list(per) == [0, 0, 0, 0]
    charges, peaks = capacity_charges(grid, per, 10.0, "community")
    assert list(peaks) == [4.2]
    # 42 for the community's 4.2 kW, shared by the homes' own peaks 3 and 4.
    assert list(charges) == pytest.approx([42.0 * 3 / 7, 42.0 * 4 / 7])
    own, _ = capacity_charges(grid, per, 10.0, "home")
    assert list(own) == pytest.approx([30.0, 40.0])
