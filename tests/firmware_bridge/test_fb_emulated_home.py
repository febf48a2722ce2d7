"""The synthetic home: battery energy conservation, baseline balance, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fb_helpers import START_S
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.emulator.battery import Battery
from firmware_bridge.emulator.home import (
    EmulatedHome,
    HomeParams,
    HomeProfile,
    self_consumption_baseline,
)

DAY_S = 86400.0
MIDNIGHT_S = START_S - 12 * 3600.0  # 2024-04-01 00:00 UTC

steps = st.lists(
    st.tuples(st.floats(-20000, 20000), st.floats(1.0, 3600.0)), min_size=1, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(
    capacity_wh=st.floats(500, 20000),
    max_power_w=st.floats(100, 10000),
    efficiency=st.floats(0.5, 1.0),
    initial_pct=st.floats(0, 100),
    plan=steps,
)
def test_battery_conserves_energy_and_stays_in_bounds(
    capacity_wh: float, max_power_w: float, efficiency: float, initial_pct: float,
    plan: list[tuple[float, float]],
) -> None:
    battery = Battery(capacity_wh, max_power_w, efficiency, capacity_wh * initial_pct / 100)
    start_wh = battery.soc_wh
    eta = math.sqrt(efficiency)
    charged_wh = discharged_wh = 0.0
    for setpoint_w, dt_s in plan:
        actual_w = battery.step(setpoint_w, dt_s)
        assert abs(actual_w) <= max_power_w + 1e-9
        assert actual_w * setpoint_w >= 0  # never the opposite direction
        assert abs(actual_w) <= abs(setpoint_w) + 1e-9
        if actual_w > 0:
            charged_wh += actual_w * dt_s / 3600
        else:
            discharged_wh -= actual_w * dt_s / 3600
        assert battery.min_wh - 1e-9 <= battery.soc_wh <= battery.max_wh + 1e-9
    expected_delta_wh = charged_wh * eta - discharged_wh / eta
    assert math.isclose(battery.soc_wh - start_wh, expected_delta_wh, abs_tol=1e-6 * capacity_wh)
    assert math.isclose(battery.charged_wh, charged_wh, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(battery.discharged_wh, discharged_wh, rel_tol=1e-9, abs_tol=1e-9)


def test_battery_limits() -> None:
    battery = Battery(10000, 5000, 0.81, 10000 * 0.06)  # eta = 0.9, 1 % above the 5 % floor
    assert battery.step(-5000, 3600) == pytest.approx(-100 * 0.9)
    assert battery.soc_pct == pytest.approx(5.0)
    assert battery.step(-100, 60) == 0.0
    assert battery.step(9000, 60) == 5000.0  # capped at max power
    empty = Battery(0, 0, 0.9, 0)
    assert empty.step(1000, 60) == 0.0
    with pytest.raises(ValueError, match="efficiency"):
        Battery(1000, 100, 1.5, 0)


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("params", [
    HomeParams(),
    HomeParams(annual_load_kwh=6000, pv_kwp=0.0, battery_kwh=0.0, battery_max_w=0.0),
    HomeParams(annual_load_kwh=2500, pv_kwp=8.0, battery_kwh=13.5, battery_max_w=5000,
               initial_soc_pct=5.0),
])
def test_baseline_balances_per_interval(params: HomeParams, seed: int) -> None:
    b = self_consumption_baseline(params, seed, MIDNIGHT_S, n_intervals=96 * 3)
    assert all(len(v) == 96 * 3 for v in b.values())
    lhs = b["load_wh"] - b["pv_wh"] + b["battery_wh"]
    np.testing.assert_allclose(lhs, b["import_wh"] - b["export_wh"], atol=1e-6)
    assert (b["import_wh"] >= 0).all()
    assert (b["export_wh"] >= 0).all()
    assert ((b["soc_pct"] >= 0) & (b["soc_pct"] <= 100 + 1e-9)).all()


def test_baseline_matches_the_running_home() -> None:
    params = HomeParams()
    b = self_consumption_baseline(params, 3, MIDNIGHT_S, n_intervals=96)
    home = EmulatedHome(params, 3, start_s=MIDNIGHT_S)
    for t_s in np.arange(MIDNIGHT_S, MIDNIGHT_S + DAY_S + 1, 337.0):  # uneven call times
        home.advance(float(t_s))
    home.advance(MIDNIGHT_S + DAY_S)
    assert home.import_wh == pytest.approx(b["import_wh"].sum(), rel=1e-9)
    assert home.export_wh == pytest.approx(b["export_wh"].sum(), rel=1e-9)
    assert home.battery.soc_pct == pytest.approx(b["soc_pct"][-1], rel=1e-9)


def test_profile_is_reproducible_and_plausible() -> None:
    t = MIDNIGHT_S + np.arange(0, 28 * DAY_S, 60.0)
    a, again, other = HomeProfile(HomeParams(), 5), HomeProfile(HomeParams(), 5), HomeProfile(
        HomeParams(), 6)
    np.testing.assert_array_equal(a.loads_w(t), again.loads_w(t))
    np.testing.assert_array_equal(a.pvs_w(t), again.pvs_w(t))
    assert not np.array_equal(a.loads_w(t), other.loads_w(t))
    assert a.load_w(float(t[100])) == a.loads_w(t)[100]
    # the same 1-minute slot gives the same value
    assert a.load_w(MIDNIGHT_S + 60.0) == a.load_w(MIDNIGHT_S + 119.9)
    assert a.loads_w(t).mean() == pytest.approx(4000e3 / 8760, rel=0.15)
    hour = (t % DAY_S) / 3600
    pv = a.pvs_w(t)
    assert (pv[(hour < 5.9) | (hour > 18.6)] == 0).all()
    assert pv[(hour > 11) & (hour < 13)].mean() > 1000  # 4 kWp around noon
    assert pv.max() <= 0.72 * 4000 + 1e-9
    noon, evening = (hour > 11) & (hour < 14), (hour > 18.5) & (hour < 21)
    assert (pv - a.loads_w(t))[noon].mean() > 0 > (pv - a.loads_w(t))[evening].mean()


def test_setpoint_holds_then_times_out() -> None:
    home = EmulatedHome(HomeParams(), 42, start_s=START_S, setpoint_timeout_s=900.0)
    home.write_setpoint(-1000.0, START_S)
    home.advance(START_S + 600.0)
    assert home.battery_w == -1000.0  # discharging at noon: remote control in force
    assert home.values()["battery_setpoint_w"] == -1000.0
    home.advance(START_S + 1200.0)
    assert home.battery_w > 0  # timed out: back to self-consumption, charging from surplus
    assert home.battery_w == pytest.approx(home.pv_w - home.load_w)
