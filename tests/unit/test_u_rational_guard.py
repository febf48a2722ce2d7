"""The rationality guard (agent.domain.rational): whatever the plan asks, a home that runs
the guarded set-point ends no worse off than itself alone, counted as the simulator counts
(sim.metrics: bills, trades and the terminal value of stored energy, capacity aside)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.domain import rational
from sim.physics import Batteries, grid_cost_msat

EFF = 0.9
DT_H = 0.25
MSAT = 1e8 / 60_000.0 * 1000.0   # msat per € at €60,000 per BTC


def _tariff(retail_eur: float, retail_max_eur: float, feed_eur: float, terminal_eur: float,
            capacity_eur: float = 0.0) -> rational.Tariff:
    return rational.Tariff(retail_eur * MSAT, retail_max_eur * MSAT, feed_eur * MSAT,
                           terminal_eur * MSAT, capacity_eur * MSAT)


def _run(net_kw: np.ndarray, plan_w: np.ndarray, retail: np.ndarray, feed: float,
         trade_share: np.ndarray, capacity_eur: float, guarded: bool,
         cap_wh: float = 10_000.0, power_w: float = 5_000.0) -> tuple[float, int]:
    """One home over the steps: its saving over itself alone (€, the capacity charge on
    its own peak included) and the number of set-points the guard bounded."""
    n = net_kw.size
    own = Batteries(np.array([cap_wh]), np.array([power_w]), np.array([cap_wh * 0.5]), EFF)
    alone = Batteries(np.array([cap_wh]), np.array([power_w]), np.array([cap_wh * 0.5]), EFF)
    guard = rational.Guard([cap_wh], [power_w], [cap_wh * 0.5], own.min_soc_pct,
                           own.max_soc_pct, EFF)
    terminal = math.sqrt(EFF) * float(retail.mean())
    own_cost = alone_cost = 0.0
    own_peak = alone_peak = 0.0
    e0 = float(own.stored_wh[0])
    for s in range(n):
        t = _tariff(float(retail[s]), float(retail.max()), feed, terminal, capacity_eur)
        x = np.array([net_kw[s] * 1000.0])
        want = np.array([plan_w[s]])
        if guarded:
            want = guard.bound_w(want, x, own.soc_wh, t, DT_H)
        before = own.soc_wh
        p = own.step(want, DT_H * 3600.0)
        g = (x + p) * DT_H
        # The trade: part of the metered exchange at a price inside [feed, retail].
        price = feed + float(trade_share[s]) * (float(retail[s]) - feed)
        tariff_cost = float(grid_cost_msat(g, t.retail, t.feed_in)[0])
        traded = 0.5 * abs(float(g[0]))
        better = traded * (float(retail[s]) - price if g[0] > 0 else price - feed) * MSAT / 1000
        cost = tariff_cost - better
        shadow_before = guard.shadow_wh
        sg = guard.shadow_step(x, DT_H)
        guard.settle(np.array([cost]), sg, g, before, own.soc_wh, shadow_before, t, DT_H)
        pa = alone.step(-x, DT_H * 3600.0)
        ga = (x + pa) * DT_H
        assert abs(float(ga[0]) - float(sg[0])) < 1e-6      # the shadow is the alone home
        alone_cost += float(grid_cost_msat(ga, t.retail, t.feed_in)[0])
        own_cost += cost
        own_peak = max(own_peak, float(g[0]) / 1000.0 / DT_H)
        alone_peak = max(alone_peak, float(ga[0]) / 1000.0 / DT_H)
    stored = float(own.stored_wh[0]) - e0 - (float(alone.stored_wh[0]) - e0)
    saving = (alone_cost - own_cost + terminal * MSAT * stored / 1000.0) / MSAT
    saving -= capacity_eur * max(0.0, own_peak) - capacity_eur * max(0.0, alone_peak)
    return saving, guard.bounded


steps = st.integers(min_value=4, max_value=96)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=steps,
       capacity_eur=st.sampled_from([0.0, 0.134, 1.0]))
def test_a_guarded_home_never_ends_worse_off_than_alone(seed: int, n: int,
                                                        capacity_eur: float) -> None:
    rng = np.random.default_rng(seed)
    net_kw = rng.normal(0.3, 2.0, n)                      # surplus and deficit
    plan_w = rng.choice([-5000.0, 0.0, 5000.0], n) * rng.uniform(0, 1, n)   # any plan
    retail = np.where(rng.uniform(size=n) < 0.3, 0.40, 0.30)
    saving, _ = _run(net_kw, plan_w, retail, 0.08, rng.uniform(0, 1, n), capacity_eur,
                        guarded=True)
    assert saving >= -1e-9


def test_the_same_plan_unguarded_can_leave_a_home_worse_off() -> None:
    """The property above is the guard's doing: without it the plan loses money."""
    rng = np.random.default_rng(3)
    n = 48
    net_kw = rng.normal(0.3, 2.0, n)
    plan_w = np.where(np.arange(n) % 2 == 0, 5000.0, -5000.0)   # churn the battery
    retail = np.full(n, 0.30)
    shares = np.zeros(n)                                        # no trade pays anything
    lost, _ = _run(net_kw, plan_w, retail, 0.08, shares, 0.134, guarded=False)
    kept, bounded = _run(net_kw, plan_w, retail, 0.08, shares, 0.134, guarded=True)
    assert lost < -0.5
    assert kept >= -1e-9
    assert bounded > 0


def test_a_home_without_a_battery_is_left_alone() -> None:
    guard = rational.Guard([0.0], [0.0], [0.0], 10.0, 95.0, EFF)
    t = _tariff(0.30, 0.40, 0.08, 0.30)
    out = guard.bound_w(np.array([1234.0]), np.array([500.0]), np.array([0.0]), t, DT_H)
    assert out[0] == 1234.0
    assert guard.bounded == 0


def test_earned_margin_buys_room_to_follow_the_plan() -> None:
    guard = rational.Guard([10_000.0], [5_000.0], [5_000.0], 10.0, 95.0, EFF)
    t = _tariff(0.30, 0.40, 0.08, 0.28)
    x = np.array([0.0])
    assert guard.bound_w(np.array([3000.0]), x, np.array([5_000.0]), t, DT_H)[0] == 0.0
    guard.margin_msat = np.array([0.05 * MSAT])          # €0.05 earned by trading
    allowed = guard.bound_w(np.array([3000.0]), x, np.array([5_000.0]), t, DT_H)[0]
    # €0.05 at (0.30 − 0.08) €/kWh: 0.227 kWh in a quarter hour, 909 W.
    assert 850.0 < allowed < 950.0
