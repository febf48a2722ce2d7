"""The central optimum LP (HiGHS): hand-checked tiny cases, the step aggregation, the bound."""

from __future__ import annotations

import numpy as np
import pytest

from sim.optimum import solve_optimum
from sim.physics import Batteries, grid_cost_msat


def _a(*x: float) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def test_no_battery_pays_retail_and_gets_feed_in() -> None:
    # Export 1 kWh at 2, import 1 kWh at 10: 8, nothing to optimise.
    o = solve_optimum(_a(-1, 1).reshape(1, 2), _a(0), _a(0), _a(0), _a(0), _a(0), 0.81,
                      _a(10, 10), 2.0, 1.0, block=1)
    assert o.cost_msat == pytest.approx(8.0, abs=1e-6)
    assert list(o.import_kw) == pytest.approx([-1.0, 1.0], abs=1e-6)


def test_battery_shifts_surplus_with_its_losses() -> None:
    # Store the 1 kWh surplus: 0.9 in the battery, 0.81 back out; import the 0.19 gap.
    o = solve_optimum(_a(-1, 1).reshape(1, 2), _a(1), _a(1), _a(0), _a(0), _a(1), 0.81,
                      _a(10, 10), 2.0, 1.0, block=1)
    assert o.cost_msat == pytest.approx(10 * 0.19, abs=1e-6)
    assert list(o.import_kw) == pytest.approx([0.0, 0.19], abs=1e-6)


def test_community_nets_homes_against_each_other() -> None:
    # One home exports 1 kW while the other imports 1 kW: the community pays nothing.
    net = np.array([[-1.0], [1.0]])
    o = solve_optimum(net, _a(0, 0), _a(0, 0), _a(0, 0), _a(0, 0), _a(0, 0), 0.9,
                      _a(10), 2.0, 1.0, block=1)
    assert o.cost_msat == pytest.approx(0.0, abs=1e-6)


def test_stored_energy_left_over_is_worth_feed_in() -> None:
    # 1 kWh surplus, no later need: exporting it earns 2, storing it earns 0.9 × 2.
    o = solve_optimum(_a(-1).reshape(1, 1), _a(1), _a(1), _a(0), _a(0), _a(1), 0.81,
                      _a(10), 2.0, 1.0, block=1)
    assert o.cost_msat == pytest.approx(-2.0, abs=1e-6)


def _instance(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    net = np.repeat(rng.normal(0.3, 1.0, (n, 24)), 4, axis=1)
    cap = np.where(rng.random(n) < 0.6, rng.uniform(3, 10, n), 0.0)
    power = np.where(cap > 0, rng.uniform(1, 4, n), 0.0)
    hours = np.arange(24)
    retail = np.repeat(np.where((hours >= 17) & (hours < 21), 40.0, 30.0), 4)
    return net, cap, power, retail


def test_hourly_blocks_give_the_quarter_hour_optimum() -> None:
    net, cap, power, retail = _instance(12, 1)
    args = (net, cap, power, cap * 0.5, cap * 0.05, cap, 0.9, retail, 8.0, 0.25)
    coarse = solve_optimum(*args)
    fine = solve_optimum(*args, block=1)
    assert coarse.block == 4
    assert fine.block == 1
    assert coarse.cost_msat == pytest.approx(fine.cost_msat, rel=1e-6)


def test_data_that_varies_within_the_hour_is_not_aggregated() -> None:
    net, cap, power, retail = _instance(3, 2)
    net[0, 1] += 0.5
    o = solve_optimum(net, cap, power, cap * 0.5, cap * 0.05, cap, 0.9, retail, 8.0, 0.25)
    assert o.block == 1


def test_lp_bounds_self_consumption_on_the_same_homes() -> None:
    net, cap, power, retail = _instance(20, 3)
    opt = solve_optimum(net, cap, power, cap * 0.5, cap * 0.05, cap, 0.9, retail, 8.0, 0.25)
    bat = Batteries(cap * 1000.0, power * 1000.0, cap * 500.0)
    start = bat.stored_wh.copy()
    cost = 0.0
    for t in range(net.shape[1]):
        p = bat.step(-net[:, t] * 1000.0, 900.0)
        cost += float(grid_cost_msat((net[:, t] * 1000.0 + p) * 0.25, retail[t], 8.0).sum())
    cost -= 8.0 * float((bat.stored_wh - start).sum()) / 1000.0
    assert opt.cost_msat <= cost + 1e-6
