"""The home's own optimiser in the daemon (`[battery] control = "mpc"`,
agent/services/home_plan.py) on a real SQLite journal and real HiGHS: it plans on the
signal's prices and its forecast, re-plans once an hour, prices its own peak at the rate ×
the signal's capacity share, reads its peak so far from the meter counters, and a plan it
cannot make is counted and handed back to the unit's plan."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pydantic
import pytest

from agent.adapters.journal import Journal
from agent.domain.market import IntervalClock
from agent.ports import Forecast
from agent.services.home_plan import HomePlanner
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.tariff import make_tariff
from agent.wire import Signal

L = 900
DAY0 = 20_000 * 86400          # a midnight (UTC)
K0 = DAY0 // L


def _settings(rate: float = 48.8) -> AgentSettings:
    return AgentSettings.model_validate({
        "agent_id": "home-1",
        "market": {"eur_per_btc": 100_000.0, "capacity_eur_per_kw_year": rate},
        "battery": {"capacity_wh": 10_000.0, "max_charge_w": 5_000.0,
                    "max_discharge_w": 5_000.0, "control": "mpc"}})


def _planner(tmp: Path, rate: float = 48.8) -> tuple[HomePlanner, Journal, AgentState]:
    s = _settings(rate)
    journal = Journal(tmp / "journal.sqlite")
    state = AgentState("home-1")
    return HomePlanner(s, state, journal, IntervalClock(L, 0.2), make_tariff(s.market)), \
        journal, state


def _signal(share: float = 1.0, cheap_steps: int = 8) -> Signal:
    """Cheap (feed-in) for the first `cheap_steps` intervals of the day, retail after."""
    t = make_tariff(_settings().market)
    prices = [t.feed_in_msat_per_kwh] * cheap_steps + [
        t.retail_at(DAY0 + i * L) for i in range(cheap_steps, 96)]
    return Signal(seq=1, interval=K0, interval_s=L, price_msat_per_kwh=prices,
                  net_load_kw=[0.0] * 96, net_load_std_kw=[0.0] * 96, agents=10, residual=0.0,
                  issued_s=float(DAY0), solver="equilibrium", capacity_share=share)


def _forecast(mean_kw: float = 0.5) -> Forecast:
    return Forecast(np.full(96, mean_kw, dtype=np.float32), np.full(96, 0.1, dtype=np.float32))


def test_it_charges_when_the_community_price_is_low_and_discharges_when_dear(
        tmp_path: Path) -> None:
    p, _, state = _planner(tmp_path)
    charge = p.setpoint_w(K0, 20.0, _forecast(), _signal())
    assert charge is not None
    assert charge > 1000.0
    evening = p.setpoint_w(K0 + 72, 80.0, _forecast(), _signal())  # 18:00, peak retail
    assert evening is not None
    assert evening < 0.0
    assert state.counters["home_plans"] == 2
    assert state.counters["home_plan_failed"] == 0


def test_it_re_plans_once_an_hour_and_runs_the_hour_between(tmp_path: Path) -> None:
    p, _, state = _planner(tmp_path)
    first = [p.setpoint_w(K0 + i, 20.0, _forecast(), _signal()) for i in range(4)]
    assert state.counters["home_plans"] == 1
    assert len(set(first)) == 1                      # one hourly block
    p.setpoint_w(K0 + 4, 20.0, _forecast(), _signal())
    assert state.counters["home_plans"] == 2


def test_its_own_peak_is_priced_at_the_rate_times_the_signals_share(tmp_path: Path) -> None:
    """With a dear capacity rate, a home that bears the whole of its own peak (share 1)
    charges from the grid more gently than one whose peak costs it nothing (share 0)."""
    whole, _, _ = _planner(tmp_path / "a", rate=900.0)
    free, _, _ = _planner(tmp_path / "b", rate=900.0)
    a = whole.setpoint_w(K0, 20.0, _forecast(), _signal(share=1.0))
    b = free.setpoint_w(K0, 20.0, _forecast(), _signal(share=0.0))
    assert a is not None
    assert b is not None
    assert b > a + 500.0, (a, b)


def test_the_peak_so_far_is_todays_metered_import(tmp_path: Path) -> None:
    p, journal, _ = _planner(tmp_path)
    imported = {K0 - 1: 0.0, K0: 1000.0, K0 + 1: 1250.0, K0 + 2: 1750.0, K0 + 3: 1800.0}
    for k, wh in imported.items():
        journal.record_reading(k * L + 1.0, k, {"import_energy_wh": wh,
                                                "export_energy_wh": 10.0})
    # Yesterday's last interval imported 1 kWh (4 kW): not today's peak. Today: 250 Wh,
    # then 500 Wh, then 50 Wh in a quarter hour: peak 2 kW.
    assert p.peak_today_kw(K0 + 3) == pytest.approx(2.0)
    assert p.peak_today_kw(K0) == 0.0


def test_a_plan_it_cannot_make_is_counted_and_handed_back(tmp_path: Path) -> None:
    p, _, state = _planner(tmp_path)
    bad = Forecast(np.full(96, np.nan, dtype=np.float32), np.full(96, 0.1, dtype=np.float32))
    assert p.setpoint_w(K0, 20.0, bad, _signal()) is None
    assert state.counters["home_plan_failed"] == 1
    assert p.setpoint_w(K0 + 1, 20.0, _forecast(), _signal()) is not None   # recovers


def test_the_config_check_refuses_mpc_without_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "highspy" else real(name, *a))
    with pytest.raises(pydantic.ValidationError, match=r"peerwatt\[mpc\]"):
        _settings()


def test_highs_leaves_stdout_to_the_json_logs() -> None:
    """HiGHS prints a banner on its first instance; a daemon's stdout is its JSON log."""
    import subprocess
    import sys

    code = ("from meanfield.home import plan_receding, receding_for\n"
            "import highspy\nhighspy.Highs()\nprint('{}')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout == "{}\n", out.stdout
