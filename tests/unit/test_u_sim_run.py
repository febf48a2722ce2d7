"""`peerwatt simulate` end to end on a small community (the committed CityLearn slice)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.domain.units import MSAT_PER_BTC
from coordinator.equilibrium import EquilibriumConfig
from firmware_bridge.emulator.battery import Battery
from sim.cli import main, simulate
from sim.data import SLICE, load_slice
from sim.homes import build_homes
from sim.scenario import ByzantineSpec, Scenario, load_scenario

N = 24
FAST = EquilibriumConfig(types=2, min_type_size=3)
STRATEGY_KEYS = ("efficiency_vs_optimum", "peak_reduction_pct", "cost_per_home_eur",
                 "revenue_per_home_eur", "price_volatility", "jain_fairness",
                 "negotiation_latency_ms", "agreement_rate", "payment_success_rate",
                 "channel_utilization")
BASELINES = ("no_trading", "central_optimum", "naive_trading", "peerwatt_deterministic",
             "central_mpc")


def _scenario() -> Scenario:
    return load_scenario("capacity").model_copy(update={"byzantine": ByzantineSpec(
        strategies=("reneging", "lying"), sweep=(0.0, 0.25))})


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Any], dict[str, Any]]:
    return simulate(_scenario(), N, 1, 3, SLICE, 0.25, N, FAST, signal_every=8)


def test_json_has_every_metric_in_range(run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    out, _ = run
    for key in (*STRATEGY_KEYS, "wall_s", "peak_rss_mb", "baselines", "byzantine", "claims"):
        assert key in out, key
    assert set(BASELINES) <= set(out["baselines"])
    for name in BASELINES[2:]:
        assert all(k in out["baselines"][name] for k in STRATEGY_KEYS), name
    lat = out["negotiation_latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert 0 < out["agreement_rate"] <= 1
    assert 0 < out["payment_success_rate"] <= 1
    assert 0 < out["jain_fairness"] <= 1
    cost = out["cost_per_home_eur"]
    assert cost["p5"] <= cost["p25"] <= cost["p50"] <= cost["p75"] <= cost["p95"]
    assert out["revenue_per_home_eur"]["mean"] >= 0
    assert out["wall_s"] > 0
    assert out["peak_rss_mb"] > 0
    assert len(out["series"]["import_kw"]["peerwatt"]) == 96
    json.dumps(out)


def test_no_strategy_beats_the_lp(run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    out, _ = run
    effs = [out["efficiency_vs_optimum"]] + [out["baselines"][b]["efficiency_vs_optimum"]
                                             for b in BASELINES]
    assert all(0 < e <= 1 + 1e-6 for e in effs), effs
    assert out["baselines"]["central_optimum"]["lp"]["status"] == "Optimal"


def test_no_trading_is_each_home_alone(run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, per_home = run
    scenario = _scenario()
    homes = build_homes(scenario, load_slice(), N, 1, 3)
    t = scenario.tariff
    eur = t.eur_per_btc / MSAT_PER_BTC
    retail = round(t.retail_eur_per_kwh / eur)
    peak = round(t.peak_retail_eur_per_kwh / eur)
    feed = round(t.feed_in_eur_per_kwh / eur)
    grid = np.zeros((N, homes.steps))
    energy = np.zeros(N)
    for i in range(N):
        b = Battery(homes.capacity_wh[i], homes.max_power_w[i], 0.9,
                    homes.capacity_wh[i] * homes.soc0_pct[i] / 100.0)
        for j, s in enumerate(range(homes.lead_steps, homes.lead_steps + homes.steps)):
            net_w = homes.net_kw[i, s] * 1000.0
            grid_wh = (net_w + b.step(-net_w, 900.0)) * 0.25
            grid[i, j] = grid_wh / 250.0
            hour = (s // 4) % 24
            price = peak if 17 <= hour < 21 else retail
            energy[i] += (price * max(grid_wh, 0.0) - feed * max(-grid_wh, 0.0)) / 1000.0
    # The day's capacity charge on the community's coincident peak, shared by own peaks.
    own = np.maximum(0.0, grid.max(axis=1))
    capacity = (t.capacity_eur_per_kw_year / 365.0 / eur * grid.sum(axis=0).max()
                * own / own.sum())
    for i in range(N):
        assert per_home["no_trading"][i] == pytest.approx((energy[i] + capacity[i]) * eur,
                                                          rel=1e-7, abs=1e-7)


def test_byzantine_sweep_structure(run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    out, _ = run
    byz = out["byzantine"]
    assert byz["agents"] == N
    assert byz["shares"] == [0.0, 0.25]
    got = {(e["attack"], e["share"]): e for e in byz["sweep"]}
    assert set(got) == {(a, s) for a in ("reneging", "lying") for s in (0.0, 0.25)}
    for a in ("reneging", "lying"):
        assert got[(a, 0.0)]["byzantine_homes"] == 0
        assert got[(a, 0.0)]["honest_gain_loss_pct"] == 0.0
        assert got[(a, 0.25)]["byzantine_homes"] == 6
    # Reneging buyers leave agreed trades unpaid.
    assert got[("reneging", 0.25)]["payment_success_rate"] < 1.0


def test_cli_writes_json_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text('name = "tiny"\nagents = 6\n[[home_types]]\nname = "pv_battery"\n'
                        'share = 1.0\npv_scale = [1.0, 2.0]\nbattery_kwh = [5.0, 10.0]\n'
                        'battery_kw = [2.5, 5.0]\n')
    out = tmp_path / "m.json"
    rc = main(["--scenario", str(scenario), "--data", str(SLICE), "--json", str(out),
               "--report", str(tmp_path / "rep"), "--signal-every", "96", "--cluster", "serial"])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["run"]["agents"] == 6
    assert data["run"]["scenario"] == "tiny"
    for png in ("net_load.png", "prices.png", "costs.png"):
        assert (tmp_path / "rep" / png).stat().st_size > 1000
    assert "efficiency vs optimum" in (tmp_path / "rep" / "index.html").read_text()
    assert "efficiency vs optimum" in capsys.readouterr().out


def test_named_scenarios_load() -> None:
    names = sorted(p.stem for p in (Path(__file__).parents[2] / "scenarios").glob("*.toml"))
    assert {"capacity", "tou", "high-pv", "low-battery", "byzantine"} <= set(names)
    for name in names:
        s = load_scenario(name)
        assert abs(sum(t.share for t in s.home_types) - 1.0) < 1e-9


def test_battery_penetration_is_applied() -> None:
    s = load_scenario("low-battery")
    homes = build_homes(s, load_slice(), 400, 1, 0)
    share = float(np.mean(homes.capacity_wh > 0))
    assert 0.05 < share < 0.15


def test_homes_without_a_battery_never_pay_more_for_energy(
        run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Trades on the meters at a price inside the tariff's band: a home whose meter readings
    do not depend on the market (no battery) pays at most what it pays alone, whatever the
    strategy; only the capacity charge's share can move with the community's peak."""
    _out, per_home = run
    homes = build_homes(_scenario(), load_slice(), N, 1, 3)
    alone = per_home["no_trading"]
    for name in ("peerwatt", "naive_trading", "peerwatt_deterministic", "central_mpc"):
        diff = per_home[name] - alone
        cap = per_home[f"{name}:capacity"] - per_home["no_trading:capacity"]
        no_battery = homes.capacity_wh <= 0
        assert no_battery.any()
        assert np.all((diff - cap)[no_battery] <= 1e-9), (name, (diff - cap)[no_battery])


def test_gain_against_the_central_planner(run: tuple[dict[str, Any], dict[str, Any]]) -> None:
    out, _ = run
    assert out["gain_captured_vs_mpc"] is not None
    assert out["baselines"]["central_mpc"]["gain_captured_vs_mpc"] == pytest.approx(1.0)
    lp = out["baselines"]["central_optimum"]
    assert lp["peak_bound_reduction_pct"] >= lp["peak_reduction_pct"] - 1e-6


def test_seeds_give_means_and_intervals(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text('name = "tiny"\nagents = 8\n[[home_types]]\nname = "pv_battery"\n'
                        'share = 0.5\npv_scale = [1.0, 2.0]\nbattery_kwh = [5.0, 10.0]\n'
                        'battery_kw = [2.5, 5.0]\n[[home_types]]\nname = "consumer"\n'
                        'share = 0.5\n[tariff]\ncapacity_eur_per_kw_year = 48.8\n')
    out = tmp_path / "m.json"
    assert main(["--scenario", str(scenario), "--data", str(SLICE), "--json", str(out),
                 "--seeds", "0-2", "--cluster", "serial", "--signal-every", "48"]) == 0
    data = json.loads(out.read_text())
    assert [s["run"]["seed"] for s in data["seeds"]] == [0, 1, 2]
    ci = data["ci95"]["gain_captured"]
    assert ci["n"] == 3
    assert ci["low"] <= ci["mean"] <= ci["high"]
    assert data["gain_captured"] == pytest.approx(
        np.mean([s["gain_captured"] for s in data["seeds"]]), abs=1e-4)
    assert "peerwatt_minus_naive_trading" in data["paired"]
    assert main(["--scenario", str(scenario), "--json", str(out), "--seeds", "2-0"]) == 2


# Differ from run to run whatever runs them (wall clocks, this process's memory).
TIMINGS = {"wall_s", "peak_rss_mb", "coordinator_solve_s", "solve_s", "negotiation_latency_ms"}


def _untimed(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _untimed(v) for k, v in x.items() if k not in TIMINGS}
    if isinstance(x, list):
        return [_untimed(v) for v in x]
    return x


@pytest.mark.timeout(600)
@pytest.mark.parametrize("runs", [["--seeds", "0-1"], ["--seed", "1"]])
def test_a_dask_cluster_gives_the_serial_json(tmp_path: Path, runs: list[str]) -> None:
    """The seeds (first case) and the sweep points and strategies (second) on a Dask
    LocalCluster of two worker processes: the same JSON as one after the other here."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text('name = "tiny"\nagents = 8\n[[home_types]]\nname = "pv_battery"\n'
                        'share = 0.5\npv_scale = [1.0, 2.0]\nbattery_kwh = [5.0, 10.0]\n'
                        'battery_kw = [2.5, 5.0]\n[[home_types]]\nname = "consumer"\n'
                        'share = 0.5\n[byzantine]\nstrategies = ["reneging", "lying"]\n'
                        'sweep = [0.0, 0.25]\n')
    got = {}
    for where in ("serial", "local"):
        out = tmp_path / f"{where}.json"
        assert main(["--scenario", str(scenario), "--data", str(SLICE), "--json", str(out),
                     "--byzantine", "0.5", "--signal-every", "48", "--cluster", where,
                     "--workers", "2", *runs]) == 0
        got[where] = json.loads(out.read_text())
    assert len(got["serial"]["byzantine"]["sweep"]) == 6  # 2 attacks x shares 0, 0.25, 0.5
    assert _untimed(got["local"]) == _untimed(got["serial"])


def test_cluster_address_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", str(tmp_path / "m.json"), "--cluster", "somewhere"]) == 2
    assert "--cluster 'somewhere'" in capsys.readouterr().err
