"""The daemon's rationality guard (agent/services/rational.py) on a real SQLite journal:
it settles each closed interval from the meter readings and the paid trades, bounds the
set-point by the margin, keeps its state across a restart and re-syncs after a gap."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from agent.adapters.journal import Journal
from agent.domain.market import IntervalClock, Terms
from agent.services.rational import RationalGuard
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.tariff import make_tariff

L = 900
DAY0 = 20_000 * 86400          # a midnight (UTC); the tariff's off-peak hours follow
K0 = DAY0 // L                 # its first interval


def _settings() -> AgentSettings:
    return AgentSettings.model_validate({"agent_id": "home-1",
                                         "market": {"eur_per_btc": 100_000.0}})


def _reading(j: Journal, k: int, t: float, soc: float, grid_w: float, battery_w: float,
             imp: float, exp: float) -> None:
    values = {"grid_power_w": grid_w, "battery_power_w": battery_w, "battery_soc_pct": soc,
              "import_energy_wh": imp, "export_energy_wh": exp}
    j.record_reading(DAY0 + k * L + t, K0 + k, values)


def _guard(tmp: Path) -> tuple[RationalGuard, Journal, AgentState]:
    s = _settings()
    journal = Journal(tmp / "journal.sqlite")
    state = AgentState("home-1")
    return (RationalGuard(s, journal, state, IntervalClock(L, 0.2), make_tariff(s.market), 1000),
            journal, state)


def _bought(j: Journal, k: int, wh: int, price: int, amount: int) -> None:
    terms = Terms(f"t{k}", K0 + k, "home-2", "home-1", wh, price)
    assert j.record_trade(terms, "buyer", DAY0 + k * L, bolt11="lnbc1",
                          payment_hash="00" * 32, latency_ms=5.0, amount_msat=amount)
    j.advance(f"t{k}", "claimed", DAY0 + (k + 1) * L)
    assert j.advance(f"t{k}", "payment_complete", DAY0 + (k + 1) * L) == "paid"


def _empty_interval_bought(journal: Journal) -> None:
    """Interval 0: 1 kW of load, the battery at its floor (5 %) in both the home and its
    shadow; the home bought the 250 Wh from a neighbour at €0.20/kWh (retail €0.30)."""
    _reading(journal, 0, 1, 5.0, 1000.0, 0.0, 0.0, 0.0)
    _reading(journal, 1, 1, 5.0, 1000.0, 0.0, 250.0, 0.0)
    _bought(journal, 0, 250, 200_000, 50_000)          # msat at €100,000 per BTC


FULL_W = 24_000.0 / 220_000.0 * 1000.0 / 0.25    # what a 24,000 msat margin allows


def _guard_with_margin(tmp: Path) -> tuple[RationalGuard, Journal]:
    """A guard whose interval 0 (the bought 250 Wh) is settled: margin 24,000 msat."""
    guard, journal, _ = _guard(tmp)
    guard.settle_due(DAY0 + 10, 5.0)
    _empty_interval_bought(journal)
    guard.settle_due(DAY0 + 2 * L - 0.1 * L, 5.0)
    return guard, journal


def test_trades_earn_a_margin_that_lets_the_plan_deviate(tmp_path: Path) -> None:
    guard, journal, state = _guard(tmp_path)
    guard.settle_due(DAY0 + 10, 5.0)                    # starts the shadow at 5 %
    _empty_interval_bought(journal)
    # Before interval 0's window closes, nothing counts: the plan is held to −net.
    assert guard.bound_w(3000.0, 0.0, 5.0, K0 + 1) == pytest.approx(0.0)
    assert state.counters["plan_setpoints_bounded"] == 1
    guard.settle_due(DAY0 + 2 * L - 0.1 * L, 5.0)       # past interval 0's window
    # Retail 75,000 msat for 250 Wh, paid 50,000 and at most the 1,000 fee allowance.
    assert guard.margin_msat == pytest.approx(24_000.0)
    allowed = guard.bound_w(3000.0, 0.0, 5.0, K0 + 2)
    # 24,000 msat at (0.30 − 0.08) €/kWh = 220,000 msat/kWh over a quarter hour: 436 W.
    assert allowed == pytest.approx(24_000.0 / 220_000.0 * 1000.0 / 0.25, rel=1e-6)


def test_the_margin_survives_a_restart(tmp_path: Path) -> None:
    guard, journal = _guard_with_margin(tmp_path)
    before = guard.margin_msat
    assert before == pytest.approx(24_000.0)
    journal.close()
    again, _, _ = _guard(tmp_path)
    assert again.margin_msat == pytest.approx(before)


def test_a_gap_in_the_readings_resyncs_the_shadow(tmp_path: Path) -> None:
    guard, _journal, state = _guard(tmp_path)
    guard.settle_due(DAY0 + 10, 50.0)
    guard.settle_due(DAY0 + 5 * L, 40.0)                # intervals 0..3 never metered
    assert state.counters["guard_resynced"] == 4
    assert guard.margin_msat == 0.0


def test_a_plan_that_costs_the_home_is_held_to_self_consumption(tmp_path: Path) -> None:
    guard, journal, _ = _guard(tmp_path)
    guard.settle_due(DAY0 + 10, 50.0)
    # Interval 0: the plan charged 2 kW from the grid (the shadow would have idled).
    _reading(journal, 0, 1, 50.0, 2000.0, 2000.0, 0.0, 0.0)
    _reading(journal, 1, 1, 54.7, 0.0, 0.0, 500.0, 0.0)
    guard.settle_due(DAY0 + 2 * L - 0.1 * L, 54.7)
    margin = guard.margin_msat
    assert margin is not None
    assert margin < 0
    assert guard.bound_w(2000.0, 0.0, 54.7, K0 + 2) == pytest.approx(0.0)
    assert guard.bound_w(-1500.0, 1500.0, 54.7, K0 + 2) == pytest.approx(-1500.0)   # −net passes


def test_two_unsettled_intervals_never_spend_one_margin(tmp_path: Path) -> None:
    """An interval is settled only after its trading window: what one set-point commits
    is held back from the next until its interval is settled."""
    guard, _journal = _guard_with_margin(tmp_path)
    full = FULL_W
    assert guard.bound_w(3000.0, 0.0, 5.0, K0 + 2) == pytest.approx(full, rel=1e-6)
    # The same interval again (a tracking correction) may use the same budget ...
    assert guard.bound_w(3000.0, 0.0, 5.0, K0 + 2) == pytest.approx(full, rel=1e-6)
    # ... the next one, while interval 2 is unsettled, has nothing left.
    assert guard.bound_w(3000.0, 0.0, 5.0, K0 + 3) == pytest.approx(0.0, abs=1e-6)
    # A smaller move in interval 2 leaves the rest for interval 3.
    (tmp_path / "b").mkdir()
    guard2, _journal2 = _guard_with_margin(tmp_path / "b")
    assert guard2.bound_w(full / 4, 0.0, 5.0, K0 + 2) == pytest.approx(full / 4)
    assert guard2.bound_w(3000.0, 0.0, 5.0, K0 + 3) == pytest.approx(0.75 * full, rel=1e-6)


def test_what_an_unsettled_interval_committed_survives_a_restart(tmp_path: Path) -> None:
    """The commitment is journaled: a restart before interval 2 is settled does not hand
    its budget to interval 3 a second time; settling interval 2 releases it."""
    guard, journal = _guard_with_margin(tmp_path)
    assert guard.bound_w(3000.0, 0.0, 5.0, K0 + 2) == pytest.approx(FULL_W, rel=1e-6)
    assert set(journal.guard_committed()) == {K0 + 2}
    journal.close()
    again, journal, _ = _guard(tmp_path)
    assert again.bound_w(3000.0, 0.0, 5.0, K0 + 3) == pytest.approx(0.0, abs=1e-6)
    # Interval 1 (and 2) metered with nothing moving: settling releases 2's commitment.
    _reading(journal, 2, 1, 5.0, 1000.0, 0.0, 500.0, 0.0)
    _reading(journal, 3, 1, 5.0, 1000.0, 0.0, 750.0, 0.0)
    again.settle_due(DAY0 + 4 * L - 0.1 * L, 5.0)
    assert K0 + 2 not in journal.guard_committed()


@pytest.mark.parametrize("journaled_mean", [True, False])
def test_the_shadow_runs_on_the_intervals_mean_not_its_first_poll(
        tmp_path: Path, journaled_mean: bool) -> None:
    """Self-consumption through an interval whose first poll read 100 W of load while the
    interval averaged 400 W: on the journaled mean of every poll the shadow discharges what
    the battery did and the margin stays 0; on the first poll alone (as before the mean
    was journaled) the shadow kept 79 Wh the battery spent, and the home looked €0.02
    behind its alone self while running exactly that self."""
    guard, journal, _ = _guard(tmp_path)
    guard.settle_due(DAY0 + 10, 50.0)
    spent_pct = 400.0 * 0.25 / math.sqrt(0.9) / 10_000.0 * 100.0
    _reading(journal, 0, 1, 50.0, 0.0, -100.0, 0.0, 0.0)
    if journaled_mean:
        journal.record_interval_net(K0, 400.0, 12)
    _reading(journal, 1, 1, 50.0 - spent_pct, 0.0, -400.0, 0.0, 0.0)
    guard.settle_due(DAY0 + 2 * L - 0.1 * L, 50.0 - spent_pct)
    margin = guard.margin_msat
    assert margin is not None
    if journaled_mean:
        assert margin == pytest.approx(0.0, abs=1.0)
    else:
        assert margin < -20_000.0
