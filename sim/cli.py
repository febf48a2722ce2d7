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
from dataclasses import replace
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from coordinator.equilibrium import EquilibriumConfig
from sim.byzantine import sweep
from sim.cluster import Mapper, serial_map
from sim.cluster import check as check_cluster
from sim.cluster import mapper as cluster_map
from sim.data import load as load_data
from sim.engine import (
    CENTRAL_MPC,
    DETERMINISTIC,
    NAIVE,
    NO_TRADING,
    PEERWATT,
    RunResult,
    Simulation,
    Strategy,
)
from sim.homes import EFFICIENCY, MAX_SOC_PCT, MIN_SOC_PCT, build_homes
from sim.metrics import _r, metrics
from sim.policies import CONTROLS, Control
from sim.progress import Progress
from sim.scenario import Scenario, load_scenario
from sim.seeds import parse_seeds, run_seeds, summarise, summarise_sweep
from sim.table import claims, table

if TYPE_CHECKING:
    from meanfield.community import Plan

STRATEGIES = (NO_TRADING, NAIVE, DETERMINISTIC, CENTRAL_MPC, PEERWATT)
RL_POLICY = "policy.onnx"
DOMAINS = ("energy", "logistics")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peerwatt simulate", description=__doc__)
    p.add_argument("--domain", choices=DOMAINS, default="energy",
                   help="what the market trades (logistics: `--domain logistics --help`)")
    p.add_argument("--agents", type=int, help="homes (default: the scenario's)")
    p.add_argument("--days", type=int, help="simulated days (default: the scenario's)")
    p.add_argument("--scenario", default="capacity", help="a file, or a name in scenarios/")
    p.add_argument("--byzantine", type=float, metavar="F",
                   help="run the Byzantine sweep (its shares plus F) under every attack")
    p.add_argument("--byzantine-agents", type=int, default=1000, metavar="M",
                   help="homes in the sweep's runs (the first M of the community; default "
                        "1000)")
    p.add_argument("--seed", type=int, help="default: the scenario's")
    p.add_argument("--seeds", metavar="LIST",
                   help="several seeds (0-4 or 0,1,2): means with 95 %% intervals and paired "
                        "differences in the JSON (`ci95`, `paired`, `seeds`)")
    p.add_argument("--cluster", default="local", metavar="WHERE",
                   help="where the independent runs (strategies, seeds, sweep points) run: "
                        "local (a Dask LocalCluster, the default), tcp://host:port (an "
                        "existing Dask scheduler) or serial (this process)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes of the local cluster (default: one per core)")
    p.add_argument("--signal-every", type=int, default=1, metavar="K",
                   help="coordinator re-solves every K intervals (default 1, as the daemon)")
    p.add_argument("--data", type=Path,
                   help="CityLearn data dir or slice CSV (default: fetch into the cache)")
    p.add_argument("--policy", type=Path,
                   help="policy ONNX file (layout v2; default: the daemon's default, "
                        f"models/{DEFAULT_POLICY})")
    p.add_argument("--control", choices=CONTROLS, default="mpc",
                   help="where peerwatt's battery set-points come from (and its means-only "
                        "variant's): mpc (default: each home's own LP on the signal), "
                        "equilibrium (the community plan), rule, rl (docs/simulate.md)")
    p.add_argument("--rl-policy", type=Path,
                   help=f"the policy ONNX file of --control rl (default: models/{RL_POLICY})")
    p.add_argument("--json", type=Path, required=True, help="write the metrics here")
    p.add_argument("--report", type=Path, help="write PNG plots and index.html here")
    return p


def _block(net_kw: npt.NDArray[np.float64], retail: npt.NDArray[np.float64],
           size: int) -> int:
    """`size` when every run of `size` steps shares its data (hourly data on 15-minute
    steps), else 1."""
    if net_kw.shape[1] % size:
        return 1
    a = net_kw.reshape(net_kw.shape[0], -1, size)
    r = retail.reshape(-1, size)
    return size if np.all(a == a[:, :, :1]) and np.all(r == r[:, :1]) else 1


def _optimum(sim: Simulation, capacity_per_kw: float | None = None) -> Plan:
    """The community optimum with perfect foresight: every battery, the capacity charge,
    the terminal value (`meanfield.community.plan`, HiGHS). `capacity_per_kw` overrides
    the tariff's (a large one gives the lowest peak the batteries allow).

    Steps that share their data (hourly data on 15-minute intervals) are solved as one
    step of that length: averaging any solution's powers over such a block keeps it
    feasible and raises neither its energy cost nor its peak (both convex), so the optimum
    is the same; the series are given back per interval."""
    from meanfield.community import Batteries, Horizon, plan  # highspy: the `sim` extra

    h = sim.homes
    lo, hi = h.lead_steps, h.lead_steps + h.steps
    net, retail, period = h.net_kw[:, lo:hi], sim.retail_msat[lo:hi], sim.period[lo:hi]
    b = _block(net, retail, 4)
    net, retail, period = net[:, ::b], retail[::b], period[::b]
    bat = np.flatnonzero(h.capacity_wh > 0)
    cap = h.capacity_wh[bat] / 1000.0
    eur = sim.eur_per_msat
    batteries = Batteries(cap, h.max_power_w[bat] / 1000.0, cap * h.soc0_pct[bat] / 100.0,
                          cap * MIN_SOC_PCT / 100.0, cap * MAX_SOC_PCT / 100.0, EFFICIENCY)
    rate = sim.capacity_msat_per_kw * eur if capacity_per_kw is None else capacity_per_kw
    basis = sim.scenario.tariff.capacity_basis if capacity_per_kw is None else "community"
    if basis == "home":
        batteries = replace(batteries, net_kw=net[bat])
    out = plan(Horizon(net.sum(axis=0), retail * eur, sim.tariff.feed_in_msat_per_kwh * eur,
                       0.25 * b, rate, 0.0, sim.terminal_msat * eur, 0.0, None, period,
                       basis), batteries)
    if basis == "home":  # the homes without a battery pay their own peaks whatever happens
        rest = np.flatnonzero(h.capacity_wh <= 0)
        fixed = sum(float(np.maximum(0.0, net[rest][:, period == q].max(axis=1)).sum())
                    for q in np.unique(period)) * rate
        out = replace(out, cost=out.cost + fixed)
    return replace(out, import_kw=np.repeat(out.import_kw, b),
                   export_kw=np.repeat(out.export_kw, b))


def _lp_metrics(opt: Plan, bound: Plan, none: RunResult, welfare: float, n: int,
                eur: float) -> dict[str, Any]:
    net = opt.import_kw - opt.export_kw
    peak, peak_none = float(net.max()), float(none.import_kw.max())
    low = float((bound.import_kw - bound.export_kw).max())
    return {"welfare_eur": _r(welfare * eur, 2), "efficiency_vs_optimum": 1.0,
            "gain_captured": 1.0,
            "peak_import_kw": _r(peak, 2),
            "peak_reduction_pct": _r(100.0 * (1 - peak / peak_none), 2),
            # The lowest peak the batteries allow (the peak priced far above energy).
            "peak_bound_kw": _r(low, 2),
            "peak_bound_reduction_pct": _r(100.0 * (1 - low / peak_none), 2),
            "lp": {"status": "Optimal", "solve_s": _r(opt.solve_s, 2), "method": "ipm",
                   "homes": n}}


def simulate(scenario: Scenario, agents: int, days: int, seed: int, data: Path | None,
             byzantine: float | None, byzantine_agents: int,
             cfg: EquilibriumConfig | None = None,
             signal_every: int = 1,
             policy: Path | None = None,
             quiet: bool = False,
             run_map: Mapper = serial_map, control: Control = "equilibrium",
             rl_policy: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    started = time.perf_counter()
    dataset = load_data(data)
    homes = build_homes(scenario, dataset, agents, days, seed)
    fc = OnnxForecaster(shipped("forecast.onnx"))
    pol = OnnxPolicy(policy or shipped(DEFAULT_POLICY))
    rl = OnnxPolicy(rl_policy or shipped(RL_POLICY)) if control == "rl" else None
    sim = Simulation(scenario, homes, fc, pol, seed, cfg, signal_every, rl)
    strategies = tuple(replace(s, control=control) if s.signal and not s.central else s
                       for s in STRATEGIES)
    shares = tuple(sorted(set(scenario.byzantine.sweep) | ({byzantine} if byzantine else set())))
    m = min(agents, byzantine_agents)
    sweep_runs = len(scenario.byzantine.strategies) * sum(1 for s in shares if s > 0)
    total = homes.steps * (len(strategies) + (
        (sweep_runs + (2 if m < agents else 0)) * m / agents if byzantine is not None else 0))
    bar = Progress(total, quiet=quiet)
    bar.label = "strategies"
    runs: dict[str, RunResult] = {s.name: r for s, r in zip(strategies, run_map(
        _strategy, strategies, sim, lambda _: bar.tick(homes.steps)), strict=True)}
    bar.label = "LP optimum (HiGHS)"
    bar.draw()
    opt = _optimum(sim)
    bound = _optimum(sim, capacity_per_kw=1000.0)
    load_value = float(runs["no_trading"].load_value_msat.sum())
    eur = sim.eur_per_msat
    stored0 = float(np.sum(homes.capacity_wh * homes.soc0_pct / 100.0)) / 1000.0
    # The plan's cost counts the energy left at its terminal value; the strategies count
    # the change of stored energy, so add the start's value back.
    lp_welfare = load_value - (opt.cost + sim.terminal_msat * eur * stored0) / eur
    none = runs["no_trading"]
    mpc = float(runs["central_mpc"].welfare_msat.sum())
    out: dict[str, Any] = metrics(runs["peerwatt"], none, lp_welfare, eur, mpc)
    out["baselines"] = {s.name: metrics(runs[s.name], none, lp_welfare, eur, mpc)
                        for s in STRATEGIES if s.name != "peerwatt"}
    out["baselines"]["central_optimum"] = _lp_metrics(opt, bound, none, lp_welfare, agents,
                                                      eur)
    out["baselines"]["central_optimum"]["community_cost_eur"] = _r(
        (load_value - lp_welfare) * eur, 2)
    if byzantine is not None:
        sub = sim
        clean, base = runs["peerwatt"], none
        if m < agents:
            sub = Simulation(scenario, homes.subset(np.arange(m)), fc, pol, seed, cfg,
                             signal_every)
            clean, base = run_map(_strategy, (PEERWATT, NO_TRADING), sub,
                                  lambda _: bar.tick(homes.steps * m / agents))
        bar.label = "Byzantine sweep"
        out["byzantine"] = {"agents": m, "requested_share": byzantine, "shares": list(shares),
                            "lie_kw": scenario.byzantine.lie_kw,
                            "sweep": sweep(sub, clean, base, scenario.byzantine.strategies,
                                           shares, bar.tick_scaled(m / agents), run_map)}
    bar.done()
    out["wall_s"] = _r(time.perf_counter() - started, 1)
    out["peak_rss_mb"] = _r(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    out["claims"] = claims(out)
    out["run"] = {"agents": agents, "days": days, "seed": seed, "scenario": scenario.name,
                  "policy": pol.path.name, "control": control,
                  "signal_every_intervals": signal_every,
                  "capacity_eur_per_kw_year": scenario.tariff.capacity_eur_per_kw_year,
                  "terminal_eur_per_kwh": _r(sim.terminal_msat * eur, 4),
                  "data": dataset.source, "homes_by_type": _count(homes.home_type),
                  "batteries": int((homes.capacity_wh > 0).sum()),
                  "machine": {"python": platform.python_version(), "cpus": _cpus(),
                              **{p: metadata.version(p) for p in ("numpy", "highspy",
                                                                   "onnxruntime")}}}
    out["series"] = {
        "import_kw": {**{k: [_r(x, 2) for x in r.import_kw] for k, r in runs.items()},
                      "central_optimum": [_r(x, 2) for x in opt.import_kw - opt.export_kw]},
        "price_eur_per_kwh": {k: [_r(x * eur, 4) for x in r.price_msat]
                              for k, r in runs.items() if r.price_msat},
    }
    per_home = {k: r.cost_msat * eur for k, r in runs.items()}
    per_home.update({f"{k}:capacity": r.capacity_msat * eur for k, r in runs.items()})
    return out, per_home


def _strategy(sim: Simulation, strategy: Strategy) -> RunResult:
    return sim.run(strategy)


def _one_seed(scenario: Scenario, agents: int, days: int, data: Path | None,
              byzantine: float | None, byzantine_agents: int, signal_every: int,
              policy: Path | None, quiet: bool, control: Control, rl_policy: Path | None,
              seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    out = simulate(scenario, agents, days, seed, data, byzantine, byzantine_agents,
                   signal_every=signal_every, policy=policy, quiet=quiet, control=control,
                   rl_policy=rl_policy)
    if quiet:
        print(f"peerwatt simulate: seed {seed} done in {out[0]['wall_s']} s "
              f"(gain captured {out[0]['gain_captured']})", file=sys.stderr, flush=True)
    return out


def combine(outs: list[tuple[dict[str, Any], dict[str, Any]]], wall_s: float) -> dict[str, Any]:
    """The seeds' outputs as one: each metric's mean at the usual keys, `ci95` and `paired`
    beside them, every seed's own output (without its series) under `seeds`."""
    runs = [o for o, _ in outs]
    summary = summarise(runs)
    first = runs[0]
    out: dict[str, Any] = {k: v for k, v in first.items() if k not in ("series", "byzantine")}
    for key, metrics_ci in summary["ci95"].items():
        target = out if key == "peerwatt" else out["baselines"].setdefault(key, {})
        for metric, ci in metrics_ci.items():
            target[metric] = ci["mean"]
    out["ci95"] = summary["ci95"]["peerwatt"]
    out["ci95_baselines"] = {k: v for k, v in summary["ci95"].items() if k != "peerwatt"}
    out["paired"] = summary["paired"]
    out["seeds"] = [{k: v for k, v in r.items() if k != "series"} for r in runs]
    if "byzantine" in first:
        out["byzantine"] = {**first["byzantine"], "sweep": summarise_sweep(runs),
                            "seeds": len(runs)}
    out["series"] = first["series"]
    out["wall_s"] = round(wall_s, 1)
    out["run"] = {**first["run"], "seeds": [r["run"]["seed"] for r in runs]}
    out["claims"] = claims(out)
    return out


def _count(items: list[str]) -> dict[str, int]:
    return {k: items.count(k) for k in sorted(set(items))}


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def _domain(argv: list[str]) -> str:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--domain", choices=DOMAINS, default="energy")
    return str(pre.parse_known_args(argv)[0].domain)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if _domain(argv) == "logistics":  # its own package and options (docs/logistics.md)
        from logistics.cli import main as logistics_main

        return logistics_main(argv)
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
    try:
        seeds = parse_seeds(args.seeds) if args.seeds else [seed]
    except ValueError as exc:
        print(f"peerwatt simulate: {exc}", file=sys.stderr)
        return 2
    try:
        where = check_cluster(args.cluster)
    except ValueError as exc:
        print(f"peerwatt simulate: {exc}", file=sys.stderr)
        return 2
    one = partial(_one_seed, scenario, agents, days, args.data, byz, args.byzantine_agents,
                  max(1, args.signal_every), args.policy, bool(args.seeds), args.control,
                  args.rl_policy)
    with cluster_map(where, args.workers) as run_map:
        if args.seeds:  # the seeds side by side; each seed's own runs one after the other
            started = time.perf_counter()
            outs = run_seeds(seeds, one, run_map)
            out = combine(outs, time.perf_counter() - started)
            per_home = outs[0][1]
        else:  # one seed: its strategies and sweep points side by side
            out, per_home = simulate(scenario, agents, days, seed, args.data, byz,
                                     args.byzantine_agents, signal_every=max(1, args.signal_every),
                                     policy=args.policy, run_map=run_map, control=args.control,
                                     rl_policy=args.rl_policy)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(table(out))
    if args.report is not None:
        from sim.report import write_report

        write_report(out, per_home, args.report)
        print(f"report: {args.report / 'index.html'}")
    return 0
