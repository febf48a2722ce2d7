"""`peerwatt simulate --agents N --days D [--scenario FILE] [--byzantine F] [--seed S]
--json FILE [--report DIR]`: peerwatt and its baselines on one community; metrics as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from coordinator.game import GameConfig
from sim.byzantine import sweep
from sim.data import load as load_data
from sim.engine import DETERMINISTIC, NAIVE, NO_TRADING, PEERWATT, RunResult, Simulation
from sim.homes import EFFICIENCY, build_homes
from sim.metrics import _r, metrics
from sim.progress import Progress
from sim.scenario import Scenario, load_scenario
from sim.table import claims, table

if TYPE_CHECKING:
    from sim.optimum import Optimum

STRATEGIES = (NO_TRADING, NAIVE, DETERMINISTIC, PEERWATT)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peerwatt simulate", description=__doc__)
    p.add_argument("--agents", type=int, help="homes (default: the scenario's)")
    p.add_argument("--days", type=int, help="simulated days (default: the scenario's)")
    p.add_argument("--scenario", default="default", help="a file, or a name in scenarios/")
    p.add_argument("--byzantine", type=float, metavar="F",
                   help="run the Byzantine sweep (its shares plus F) under every attack")
    p.add_argument("--byzantine-agents", type=int, default=1000, metavar="M",
                   help="homes in the sweep's runs (the first M of the community; default "
                        "1000)")
    p.add_argument("--seed", type=int, help="default: the scenario's")
    p.add_argument("--signal-every", type=int, default=1, metavar="K",
                   help="coordinator re-solves every K intervals (default 1, as the daemon)")
    p.add_argument("--data", type=Path,
                   help="CityLearn data dir or slice CSV (default: fetch into the cache)")
    p.add_argument("--policy", type=Path,
                   help="policy ONNX file (layout v2; default: the daemon's default, "
                        f"models/{DEFAULT_POLICY})")
    p.add_argument("--json", type=Path, required=True, help="write the metrics here")
    p.add_argument("--report", type=Path, help="write PNG plots and index.html here")
    return p


def _optimum(sim: Simulation) -> Optimum:
    from sim.optimum import solve_optimum  # highspy: the `sim` extra

    h = sim.homes
    lo, hi = h.lead_steps, h.lead_steps + h.steps
    cap_kwh = h.capacity_wh / 1000.0
    retail = np.array([sim.tariff.retail_at(h.first_step_s + s * 900) for s in range(lo, hi)],
                      dtype=np.float64)
    return solve_optimum(h.net_kw[:, lo:hi], cap_kwh, h.max_power_w / 1000.0,
                         cap_kwh * h.soc0_pct / 100.0, cap_kwh * 0.05, cap_kwh, EFFICIENCY,
                         retail, float(sim.tariff.feed_in_msat_per_kwh), 0.25)


def _lp_metrics(opt: Optimum, none: RunResult, welfare: float, n: int,
                eur: float) -> dict[str, Any]:
    peak, peak_none = float(opt.import_kw.max()), float(none.import_kw.max())
    return {"welfare_eur": _r(welfare * eur, 2), "efficiency_vs_optimum": 1.0,
            "peak_import_kw": _r(peak, 2),
            "peak_reduction_pct": _r(100.0 * (1 - peak / peak_none), 2),
            "cost_per_home_eur": {"mean": _r(opt.cost_msat / n * eur)},
            "community_cost_eur": _r(opt.cost_msat * eur, 2),
            "lp": {"status": opt.status, "solve_s": _r(opt.solve_s, 2), "columns": opt.columns,
                   "rows": opt.rows, "step_block": opt.block, "method": "ipm"}}


def simulate(scenario: Scenario, agents: int, days: int, seed: int, data: Path | None,
             byzantine: float | None, byzantine_agents: int,
             game: GameConfig | None = None,
             signal_every: int = 1,
             policy: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    started = time.perf_counter()
    dataset = load_data(data)
    homes = build_homes(scenario, dataset, agents, days, seed)
    fc = OnnxForecaster(shipped("forecast.onnx"))
    pol = OnnxPolicy(policy or shipped(DEFAULT_POLICY))
    sim = Simulation(scenario, homes, fc, pol, seed, game, signal_every)
    shares = tuple(sorted(set(scenario.byzantine.sweep) | ({byzantine} if byzantine else set())))
    m = min(agents, byzantine_agents)
    sweep_runs = len(scenario.byzantine.strategies) * sum(1 for s in shares if s > 0)
    total = homes.steps * (len(STRATEGIES) + (
        (sweep_runs + (2 if m < agents else 0)) * m / agents if byzantine is not None else 0))
    bar = Progress(total)
    runs: dict[str, RunResult] = {}
    for strategy in STRATEGIES:
        bar.label = strategy.name
        runs[strategy.name] = sim.run(strategy, tick=bar.tick)
    bar.label = "LP optimum (HiGHS)"
    bar.draw()
    opt = _optimum(sim)
    load_value = float(runs["no_trading"].load_value_msat.sum())
    lp_welfare = load_value - opt.cost_msat
    eur = sim.eur_per_msat
    none = runs["no_trading"]
    out: dict[str, Any] = metrics(runs["peerwatt"], none, lp_welfare, eur)
    out["baselines"] = {s.name: metrics(runs[s.name], none, lp_welfare, eur)
                        for s in STRATEGIES if s.name != "peerwatt"}
    out["baselines"]["central_optimum"] = _lp_metrics(opt, none, lp_welfare, agents, eur)
    if byzantine is not None:
        sub = sim
        clean, base = runs["peerwatt"], none
        if m < agents:
            sub = Simulation(scenario, homes.subset(np.arange(m)), fc, pol, seed, game,
                             signal_every)
            clean = sub.run(PEERWATT, tick=bar.tick_scaled(m / agents))
            base = sub.run(NO_TRADING, tick=bar.tick_scaled(m / agents))
        bar.label = "Byzantine sweep"
        out["byzantine"] = {"agents": m, "requested_share": byzantine, "shares": list(shares),
                            "lie_kw": scenario.byzantine.lie_kw,
                            "sweep": sweep(sub, clean, base, scenario.byzantine.strategies,
                                           shares, bar.tick_scaled(m / agents))}
    bar.done()
    out["wall_s"] = _r(time.perf_counter() - started, 1)
    out["peak_rss_mb"] = _r(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    out["claims"] = claims(out)
    out["run"] = {"agents": agents, "days": days, "seed": seed, "scenario": scenario.name,
                  "policy": pol.path.name,
                  "signal_every_intervals": signal_every,
                  "data": dataset.source, "homes_by_type": _count(homes.home_type),
                  "batteries": int((homes.capacity_wh > 0).sum()),
                  "machine": {"python": platform.python_version(), "cpus": _cpus(),
                              **{p: metadata.version(p) for p in ("numpy", "highspy",
                                                                   "onnxruntime")}}}
    out["series"] = {
        "import_kw": {**{k: [_r(x, 2) for x in r.import_kw] for k, r in runs.items()},
                      "central_optimum": [_r(x, 2) for x in opt.import_kw]},
        "price_eur_per_kwh": {k: [_r(x * eur, 4) for x in r.price_msat]
                              for k, r in runs.items() if r.price_msat},
    }
    per_home = {k: r.cost_msat * eur for k, r in runs.items()}
    return out, per_home


def _count(items: list[str]) -> dict[str, int]:
    return {k: items.count(k) for k in sorted(set(items))}


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if importlib.util.find_spec("highspy") is None:
        print("peerwatt simulate: needs highspy (the LP optimum): "
              "pip install 'peerwatt[sim]' or make simulate", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except (FileNotFoundError, ValueError) as exc:
        print(f"peerwatt simulate: {exc}", file=sys.stderr)
        return 2
    agents = args.agents or scenario.agents
    days = args.days or scenario.days
    seed = scenario.seed if args.seed is None else args.seed
    byz = args.byzantine
    if byz is None and scenario.byzantine.share > 0:
        byz = scenario.byzantine.share
    if byz is not None and not 0 <= byz < 1:
        print("peerwatt simulate: --byzantine must be in [0, 1)", file=sys.stderr)
        return 2
    out, per_home = simulate(scenario, agents, days, seed, args.data, byz,
                             args.byzantine_agents, signal_every=max(1, args.signal_every),
                             policy=args.policy)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(table(out))
    if args.report is not None:
        from sim.report import write_report

        write_report(out, per_home, args.report)
        print(f"report: {args.report / 'index.html'}")
    return 0
