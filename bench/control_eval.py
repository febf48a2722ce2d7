"""Which battery control pays: the controls of `peerwatt simulate --control` side by side,
each with its forecast spread and on the means only, in the simulator's market.

    python -m bench.control_eval --homes 1000 --seeds 0-2 --days 2017-06-15 \
        --rl-runs RUN0 RUN1 RUN2 --json bench/results/control_eval.json [--workers 2]
    python -m bench.control_eval --combine A.json B.json --json OUT.json   # same units

Units: (seed, day). Each unit builds its own community (seed 100 + s: not a training
community) on a held-out day (June–July 2017: after every RL training day, in the
forecaster's test period) and runs every control on the same homes and data; the RL
policy of training seed s (`RUN_s/prob.zip`, `det.zip`, exported to ONNX here and
parity-checked) meets the communities of seed s. Metrics per unit: cost per home-day
(bills + payments − receipts + capacity share − the change of stored energy at the
terminal value, €), the same over the homes on the held-out buildings (never in RL
training), the community's peak, its capacity charge, and how often the import went
above the threshold: the community's own daily peak with the homes alone
(`intervals_above_threshold`, 15-minute intervals) and, per battery home, its own daily
peak alone (`home_intervals_above_own_peak_pct`). Paired differences over units, mean
with its 95 % Student-t interval (`sim.seeds.interval`).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from models.policy.train import HELD_OUT_BUILDINGS
from sim.data import load
from sim.engine import NO_TRADING, PEERWATT, RunResult, Simulation
from sim.homes import build_homes
from sim.policies import CONTROLS
from sim.scenario import load_scenario
from sim.seeds import interval, parse_seeds

DAYS = (date(2017, 6, 15),)


def _name(control: str, probabilistic: bool) -> str:
    return control if probabilistic else f"{control}_means_only"


def _metrics(r: RunResult, alone: RunResult, held: np.ndarray, bat: np.ndarray,
             eur: float, n: int) -> dict[str, float]:
    net = (r.cost_msat - r.terminal_msat) * eur
    threshold = alone.peaks_kw.max()
    own_alone = np.maximum(0.0, alone.grid_kw[bat]).max(axis=1, keepdims=True)
    return {"cost_eur_per_home_day": float(net.sum() / n),
            "cost_held_out_eur_per_home_day": float(net[held].mean()) if held.size else
            float("nan"),
            "peak_kw": float(r.peaks_kw.max()),
            "capacity_charge_eur_per_home": float(r.capacity_msat.sum() * eur / n),
            "intervals_above_threshold": int((r.import_kw > threshold + 1e-9).sum()),
            "home_intervals_above_own_peak_pct": float(
                100.0 * (r.grid_kw[bat] > own_alone + 1e-6).mean()) if bat.size else 0.0}


def unit(homes_n: int, scenario: str, controls: tuple[str, ...], rl_runs: list[Path],
         seeds: list[int], job: tuple[int, str]) -> dict[str, Any]:
    seed, day = job
    sc = load_scenario(scenario)
    sc = sc.model_copy(update={"start_day": date.fromisoformat(day)})
    homes = build_homes(sc, load(None), homes_n, 1, 100 + seed)
    rl = {}
    if "rl" in controls:
        run = rl_runs[seeds.index(seed) % len(rl_runs)]
        rl = {v: OnnxPolicy(run / f"{v}.onnx") for v in ("prob", "det")}
    sim = Simulation(sc, homes, OnnxForecaster(shipped("forecast.onnx")),
                     OnnxPolicy(shipped(DEFAULT_POLICY)), 100 + seed)
    eur, n = sim.eur_per_msat, homes.n
    held = np.array([i for i, b in enumerate(homes.building) if b in HELD_OUT_BUILDINGS],
                    dtype=np.int64)
    bat = np.flatnonzero(homes.capacity_wh > 0)
    began = time.perf_counter()
    alone = sim.run(NO_TRADING)
    out: dict[str, Any] = {"seed": seed, "day": day, "homes": n, "held_out_homes": int(held.size),
                           "no_trading": _metrics(alone, alone, held, bat, eur, n)}
    for c in controls:
        for prob in (True, False):
            if c == "rl":
                sim.rl_policy = rl["prob" if prob else "det"]
            t = time.perf_counter()
            r = sim.run(replace(PEERWATT, control=c, probabilistic=prob))  # type: ignore[arg-type]
            out[_name(c, prob)] = {**_metrics(r, alone, held, bat, eur, n),
                                   "wall_s": round(time.perf_counter() - t, 1)}
    out["wall_s"] = round(time.perf_counter() - began, 1)
    print(f"control_eval: seed {seed} day {day}: " + ", ".join(
        f"{k} {v['cost_eur_per_home_day']:.4f}" for k, v in out.items()
        if isinstance(v, dict)), flush=True)
    return out


def summarise(units: list[dict[str, Any]], controls: tuple[str, ...]) -> dict[str, Any]:
    names = ["no_trading"] + [_name(c, p) for c in controls for p in (True, False)]
    metrics = list(units[0]["no_trading"])
    table = {k: {m: interval([u[k][m] for u in units]) for m in metrics} for k in names}
    pairs = [(_name(c, True), _name(c, False)) for c in controls]
    rivals = [c for c in controls if c != "rl"]
    if "rl" in controls and rivals:
        best = min(rivals, key=lambda c: float(table[c]["cost_eur_per_home_day"]["mean"]))
        pairs += [("rl", c) for c in rivals] + [("rl_means_only", _name(best, False))]
    if "equilibrium" in controls:  # every other control against the default
        pairs += [(c, "equilibrium") for c in controls if c not in ("equilibrium", "rl")]
    paired = {f"{a}_minus_{b}": {m: interval([u[a][m] - u[b][m] for u in units])
                                 for m in metrics} for a, b in pairs}
    winner = min((k for k in names if k != "no_trading"),
                 key=lambda k: float(table[k]["cost_eur_per_home_day"]["mean"]))
    return {"table": table, "paired": paired, "lowest_cost": winner,
            "best_rival_of_rl": best if "rl" in controls and rivals else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homes", type=int, default=1000)
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--days", default=",".join(str(d) for d in DAYS))
    ap.add_argument("--scenario", default="capacity")
    ap.add_argument("--controls", default=",".join(CONTROLS))
    ap.add_argument("--rl-runs", type=Path, nargs="*", default=[])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--combine", type=Path, nargs="+",
                    help="only join earlier reports on the same units and summarise them")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    if args.combine:
        _write(combine([json.loads(p.read_text()) for p in args.combine]), args.json)
        return
    began = time.perf_counter()
    controls = tuple(c for c in args.controls.split(",") if c)
    seeds = parse_seeds(args.seeds)
    exports = {}
    if "rl" in controls:
        if not args.rl_runs:
            ap.error("--controls with rl needs --rl-runs")
        from models.policy.export import export

        for run in args.rl_runs:
            for v in ("prob", "det"):
                exports[f"{run.name}/{v}"] = export(run / f"{v}.zip", run / f"{v}.onnx")
    jobs = [(s, d) for s in seeds for d in args.days.split(",")]
    one = partial(unit, args.homes, args.scenario, controls, args.rl_runs, seeds)
    if args.workers > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            units = list(pool.map(one, jobs))
    else:
        units = [one(j) for j in jobs]
    report = {"what": "battery controls in peerwatt simulate's market, paired over "
                      "(seed, day) units; cost per home-day includes the capacity share "
                      "and the change of stored energy at the terminal value",
              "scenario": args.scenario, "homes": args.homes, "seeds": seeds,
              "days": args.days.split(","), "controls": list(controls),
              "rl_runs": [str(r) for r in args.rl_runs], "exports": exports,
              **summarise(units, controls), "units": units,
              "machine": {"python": platform.python_version(), "cpus": 2},
              "wall_s": round(time.perf_counter() - began, 1)}
    _write(report, args.json)


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Reports of different controls on the same (seed, day) units, or of the same
    controls on other units, as one; every unit must end up with every control."""
    first = reports[0]
    units: dict[tuple[int, str], dict[str, Any]] = {}
    names: set[str] = set()
    for r in reports:
        names |= set(r["controls"])
        for u in r["units"]:
            key = (u["seed"], u["day"])
            units[key] = {**units.get(key, {}), **u}
    controls = tuple(c for c in CONTROLS if c in names)
    wanted = {"no_trading"} | {_name(c, p) for c in controls for p in (True, False)}
    for key, u in units.items():
        if not wanted <= set(u):
            raise SystemExit(f"control_eval --combine: unit seed {key[0]} day {key[1]} "
                             f"lacks {', '.join(sorted(wanted - set(u)))}")
    joined = [units[k] for k in sorted(units)]
    out = {**first, "controls": list(controls), "units": joined,
           "seeds": sorted({k[0] for k in units}), "days": sorted({k[1] for k in units}),
           "rl_runs": sorted({x for r in reports for x in r.get("rl_runs", [])}),
           "exports": {k: v for r in reports for k, v in r.get("exports", {}).items()},
           "wall_s": round(sum(float(r["wall_s"]) for r in reports), 1),
           "combined_from": [r.get("controls") for r in reports]}
    out.update(summarise(joined, controls))
    return out


def _write(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    for k, row in report["paired"].items():
        c = row["cost_eur_per_home_day"]
        print(f"{k:44s} cost {c['mean']:+.4f} [{c['low']}, {c['high']}]  above threshold "
              f"{row['intervals_above_threshold']['mean']:+.2f}")
    for k, row in report["table"].items():
        c = row["cost_eur_per_home_day"]
        print(f"{k:28s} cost {c['mean']:.4f} [{c['low']}, {c['high']}]  peak "
              f"{row['peak_kw']['mean']:.1f}  above {row['intervals_above_threshold']['mean']}")


if __name__ == "__main__":
    main()
