"""The community's equilibrium programme (HiGHS): hand-checked cases, its prices (the
balance duals), the capacity charge on either basis, the bound, and exploitability."""

from __future__ import annotations

import numpy as np
import pytest

from meanfield.community import (
    Batteries,
    Horizon,
    best_response,
    exploitability,
    plan,
    value_at,
)
from sim.physics import Batteries as SimBatteries
from sim.physics import grid_cost_msat


def _a(*x: float) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def _one(cap: float, power: float, stored: float = 0.0, eff: float = 0.81) -> Batteries:
    return Batteries(_a(cap), _a(power), _a(stored), _a(0.0), _a(cap), eff)


NONE = Batteries(_a(), _a(), _a(), _a(), _a(), 0.81)


def test_no_battery_pays_retail_and_gets_feed_in() -> None:
    # Export 1 kWh at 2, import 1 kWh at 10: 8; the price is feed-in, then retail.
    p = plan(Horizon(_a(-1, 1), _a(10, 10), 2.0, 1.0), NONE)
    assert p.cost == pytest.approx(8.0, abs=1e-6)
    assert list(p.import_kw - p.export_kw) == pytest.approx([-1.0, 1.0], abs=1e-6)
    assert list(p.price) == pytest.approx([2.0, 10.0], abs=1e-6)


def test_battery_shifts_surplus_with_its_losses() -> None:
    # Store the 1 kWh surplus: 0.9 in the battery, 0.81 back out; import the 0.19 gap.
    p = plan(Horizon(_a(-1, 1), _a(10, 10), 2.0, 1.0, terminal_per_kwh=0.0), _one(1, 2))
    assert p.cost == pytest.approx(10 * 0.19, abs=1e-6)
    assert list(p.import_kw - p.export_kw) == pytest.approx([0.0, 0.19], abs=1e-6)
    # A kWh more load in the first step would come out of the store: worth 10 × 0.81.
    assert p.price[0] == pytest.approx(8.1, abs=1e-6)


def test_stored_energy_left_over_is_worth_the_terminal_value() -> None:
    # 1 kWh surplus, no later need: exporting earns 2, storing 0.9 kWh earns 0.9 × 3.
    p = plan(Horizon(_a(-1), _a(10), 2.0, 1.0, terminal_per_kwh=3.0), _one(1, 1))
    assert p.cost == pytest.approx(-2.7, abs=1e-6)


def test_capacity_charge_flattens_the_peak() -> None:
    # Loads 1 and 3 kW; a 2 kWh battery (lossless) moves 1 kWh from the second hour to
    # the first when a kW of peak costs more than nothing: peak 2 kW.
    b = Batteries(_a(2), _a(2), _a(0), _a(0), _a(2), 1.0)
    p = plan(Horizon(_a(1, 3), _a(10, 10), 2.0, 1.0, capacity_per_kw=5.0,
                     terminal_per_kwh=0.0), b)
    assert float(p.peak_kw[0]) == pytest.approx(2.0, abs=1e-6)
    assert p.cost == pytest.approx(40.0 + 10.0, abs=1e-6)
    # Both hours set the peak: each carries part of the capacity charge in its price.
    assert float(p.capacity_price.sum()) == pytest.approx(5.0, abs=1e-6)


def test_each_billing_period_pays_its_own_peak() -> None:
    p = plan(Horizon(_a(1, 3, 2, 1), _a(1, 1, 1, 1), 0.0, 1.0, capacity_per_kw=10.0,
                     period=np.array([0, 0, 1, 1])), NONE)
    assert list(p.peak_kw) == pytest.approx([3.0, 2.0], abs=1e-6)
    assert p.cost == pytest.approx(7.0 + 50.0, abs=1e-6)


def test_peak_so_far_is_free_below_and_charged_above() -> None:
    p = plan(Horizon(_a(1, 3), _a(1, 1), 0.0, 1.0, capacity_per_kw=10.0,
                     peak_so_far_kw=3.5), NONE)
    assert float(p.peak_kw[0]) == pytest.approx(3.5, abs=1e-6)


def test_home_basis_charges_each_units_own_peak() -> None:
    # Two homes: one peaks at 3 kW in the first hour, the other at 3 kW in the second;
    # the community's coincident load is flat, each home's own peak is not.
    net = np.array([[3.0, 1.0], [1.0, 3.0]])
    b = Batteries(_a(2, 2), _a(2, 2), _a(1, 1), _a(0, 0), _a(2, 2), 1.0, net, _a(0, 0))
    own = plan(Horizon(net.sum(axis=0), _a(10, 10), 2.0, 1.0, capacity_per_kw=5.0,
                       terminal_per_kwh=10.0, capacity_basis="home"), b)
    assert own.peak_kw.shape == (2, 1)
    # The first discharges its 1 kWh in its peak hour: 2 kW. The second also charges 0.5
    # kWh from the grid in its quiet hour to discharge 1.5 in its peak: 1.5 kW each hour.
    assert own.peak_kw[:, 0] == pytest.approx([2.0, 1.5], abs=1e-6)
    with pytest.raises(ValueError, match="net_kw"):
        plan(Horizon(_a(1), _a(1), 0.0, 1.0, capacity_basis="home"), _one(1, 1))


def _instance(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    net = np.repeat(rng.normal(0.3, 1.0, (n, 24)), 4, axis=1)
    cap = np.where(rng.random(n) < 0.6, rng.uniform(3, 10, n), 0.0)
    power = np.where(cap > 0, rng.uniform(1, 4, n), 0.0)
    hours = np.arange(24)
    retail = np.repeat(np.where((hours >= 17) & (hours < 21), 40.0, 30.0), 4)
    return net, cap, power, retail


def test_the_plan_bounds_self_consumption_on_the_same_homes() -> None:
    net, cap, power, retail = _instance(20, 3)
    has = cap > 0
    b = Batteries(cap[has], power[has], cap[has] * 0.5, cap[has] * 0.05, cap[has], 0.9)
    opt = plan(Horizon(net.sum(axis=0), retail, 8.0, 0.25, terminal_per_kwh=8.0), b)
    bat = SimBatteries(cap * 1000.0, power * 1000.0, cap * 500.0)
    start = bat.soc_wh.copy()
    cost = 0.0
    for t in range(net.shape[1]):
        p = bat.step(-net[:, t] * 1000.0, 900.0)
        cost += float(grid_cost_msat((net[:, t] * 1000.0 + p) * 0.25, retail[t], 8.0).sum())
    cost -= 8.0 * float((bat.soc_wh - start).sum()) / 1000.0
    stored0 = float((cap[has] * 0.5).sum())
    assert opt.cost + 8.0 * stored0 <= cost + 1e-6


def test_prices_stay_in_the_band_and_nobody_gains_by_deviating() -> None:
    net, cap, power, retail = _instance(30, 5)
    has = cap > 0
    b = Batteries(cap[has], power[has], cap[has] * 0.5, cap[has] * 0.05, cap[has], 0.9)
    h = Horizon(net.sum(axis=0), retail, 8.0, 0.25, capacity_per_kw=0.0,
                terminal_per_kwh=25.0, wear_per_kwh=0.1)
    p = plan(h, b)
    assert np.all(p.price >= 8.0 - 1e-6)
    assert np.all(p.price <= retail + 1e-6)
    gain = exploitability(p, b, h)
    assert gain.shape == (int(has.sum()),)
    assert float(gain.max()) < 1e-3 * float(retail.mean())


def test_a_plan_off_equilibrium_is_exploitable() -> None:
    # At prices 1 then 10, an empty battery should charge first and sell later.
    b = _one(1.0, 1.0, eff=1.0)
    h = Horizon(_a(0.0, 0.0), _a(1.0, 10.0), _a(1.0, 10.0), 1.0, terminal_per_kwh=0.0)
    br = best_response(_a(1.0, 10.0), b, h)
    assert list(br.power_kw[0]) == pytest.approx([1.0, -1.0], abs=1e-6)
    idle = value_at(_a(1.0, 10.0), _a(0.0, 0.0), 0.0, h)
    best = value_at(_a(1.0, 10.0), br.power_kw[0], float(br.stored_kwh[0, -1]), h)
    assert idle - best == pytest.approx(9.0, abs=1e-6)


def test_hourly_blocks_give_the_quarter_hour_optimum() -> None:
    """Data constant within each hour: one hourly step per block has the same optimum,
    capacity charge included (what sim.cli._optimum relies on)."""
    net, cap, power, retail = _instance(12, 1)
    has = cap > 0
    b = Batteries(cap[has], power[has], cap[has] * 0.5, cap[has] * 0.05, cap[has], 0.9)
    fine = plan(Horizon(net.sum(axis=0), retail, 8.0, 0.25, capacity_per_kw=40.0,
                        terminal_per_kwh=25.0), b)
    coarse = plan(Horizon(net.sum(axis=0)[::4], retail[::4], 8.0, 1.0, capacity_per_kw=40.0,
                          terminal_per_kwh=25.0), b)
    assert coarse.cost == pytest.approx(fine.cost, rel=1e-6)
