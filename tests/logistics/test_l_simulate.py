"""`peerwatt simulate --domain logistics` end to end (50 agents): the JSON, the report,
the same numbers for the same seed, clear errors; the energy simulator's options stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logistics.scenario import SCENARIO_DIR, LogisticsScenario, load_scenario
from peerwatt.cli import main
from sim.cli import _domain, _parser

STRATEGIES = ("no_signal", "first_come", "central_optimum")
KEYS = ("welfare_eur", "efficiency_vs_optimum", "on_time_pct", "late_deliveries_pct",
        "undelivered_pct", "carrier_utilisation", "jain_fairness", "jain_surplus",
        "negotiation_latency_ms", "negotiations_within_100ms_pct")
# Measured on the wall clock: everything else must repeat exactly for the same seed.
CLOCKED = ("wall_s", "peak_rss_mb", "negotiation_latency_ms", "negotiation_time_simulated_ms",
           "negotiations_within_100ms_pct", "latency_cdf_ms", "solve_s", "claims", "wire_bytes")


def _run(tmp: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp / f"{name}.json"
    assert main(["simulate", "--domain", "logistics", "--agents", "50", "--json", str(out),
                 *extra]) == 0
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any],
                                                             Path]:
    tmp = tmp_path_factory.mktemp("logistics")
    first = _run(tmp, "a", "--seed", "4", "--report", str(tmp / "report"))
    second = _run(tmp, "b", "--seed", "4")
    return first, second, tmp / "report"


def test_json_has_every_metric_in_range(runs: tuple[dict[str, Any], dict[str, Any], Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = runs
    assert out["run"]["agents"] == 50
    assert out["run"]["carriers"] + out["run"]["shippers"] == 50
    for name in STRATEGIES:
        assert all(k in out["baselines"][name] for k in KEYS), name
    assert all(k in out for k in (*KEYS, "claims", "series", "wire", "coordinator"))
    lp = out["baselines"]["central_optimum"]
    assert lp["efficiency_vs_optimum"] == 1.0
    for m in (out, *(out["baselines"][k] for k in STRATEGIES)):
        assert m["efficiency_vs_optimum"] <= 1.0 + 1e-9
        assert 0 <= m["late_deliveries_pct"] <= 100
        parts = m["on_time_pct"] + m["late_deliveries_pct"] + m["undelivered_pct"]
        assert parts == pytest.approx(100.0, abs=0.05)
        assert 0 < m["carrier_utilisation"]["overall"] <= 1
        assert 0 < m["jain_fairness"] <= 1
    assert out["sessions"] > 0
    assert out["agreements"] > 0
    assert 0 < out["agreement_rate"] <= 1
    lat = out["negotiation_latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    assert out["wire"]["moves_verified"] == out["wire"]["moves_sent"]
    assert out["coordinator"]["signals"] >= 1
    assert [c["claim"] for c in out["claims"]] == ["welfare ≥ 90 % of the LP optimum",
                                                   "95 % of negotiations within 100 ms"]


def _strip(m: Any) -> Any:
    if isinstance(m, dict):
        return {k: _strip(v) for k, v in m.items() if k not in CLOCKED}
    return m


def test_same_seed_same_numbers(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    first, second, _ = runs
    assert _strip(first) == _strip(second)


def test_report_has_plots_and_table(runs: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    folder = runs[2]
    for name in ("slots.png", "outcomes.png", "prices.png", "latency.png"):
        assert (folder / name).stat().st_size > 5_000, name
    page = (folder / "index.html").read_text()
    assert "LP optimum" in page
    assert "slots.png" in page


def test_bad_scenario_is_one_clear_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("agents = 10\n[shippers]\nwindow_preference = [0.5, 0.5]\n")
    assert main(["simulate", "--domain", "logistics", "--scenario", str(bad), "--json",
                 str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "window_preference needs one share per window" in err[0]
    assert main(["simulate", "--domain", "logistics", "--scenario", "nowhere", "--json",
                 str(tmp_path / "x.json")]) == 2
    assert "named ones: city" in capsys.readouterr().err


def test_shipped_logistics_scenarios_load_and_cite() -> None:
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
    assert "city" in names
    for name in names:
        sc = load_scenario(name)
        assert isinstance(sc, LogisticsScenario)
        assert sc.sources, f"{name}: say where the numbers come from"


def test_energy_is_still_the_default_domain() -> None:
    assert _domain(["--agents", "10", "--json", "x"]) == "energy"
    assert _domain(["--domain", "logistics"]) == "logistics"
    args = _parser().parse_args(["--domain", "energy", "--json", "x.json"])
    assert args.domain == "energy"
    assert args.scenario == "capacity"
