"""Policy benchmark: RL vs the game's equilibrium vs self-consumption vs RL trained on
forecast means only, on held-out days and homes (models/policy/evaluate.py).

    python -m bench.policy_eval --runs RUN_DIR [RUN_DIR ...] --json bench/results/policy_eval.json

Each RUN_DIR is a `peerwatt models train policy` run (train.json, prob.zip, det.zip); its
seed picks the evaluation communities, so the RL variants of seed s meet the communities
of seed s. The days are in June–July 2017, after every training day and in the
forecaster's test period.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from agent.adapters.onnx import OnnxForecaster, OnnxPolicy, shipped
from coordinator.game import GameConfig
from models.policy.core import EnvConfig
from models.policy.episodes import build_day
from models.policy.evaluate import (
    ci,
    equilibrium,
    no_trading,
    onnx_controller,
    run,
    self_consumption,
    unit_metrics,
)
from models.policy.export import export
from models.policy.train import HELD_OUT_BUILDINGS
from sim.data import load
from sim.scenario import load_scenario

DAYS = (date(2017, 6, 6), date(2017, 6, 20), date(2017, 7, 4), date(2017, 7, 18))
HOMES = 200
METRICS = ("cost_eur", "revenue_eur", "peak_reduction_pct", "price_volatility",
           "jain_fairness")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=Path, nargs="+", required=True)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--homes", type=int, default=HOMES)
    args = ap.parse_args()
    began = time.perf_counter()
    sc, data = load_scenario("tou"), load()
    fc = OnnxForecaster(shipped("forecast.onnx"))
    units: dict[str, list[dict[str, float]]] = {}
    exported: dict[str, Any] = {}
    held_count = []
    for run_dir in args.runs:
        seed = int(json.loads((run_dir / "train.json").read_text())["seed"])
        pols = {}
        for v in ("prob", "det"):
            exported[f"{run_dir.name}/{v}"] = export(run_dir / f"{v}.zip",
                                                     run_dir / f"{v}.onnx")
            pols[v] = OnnxPolicy(run_dir / f"{v}.onnx")
        for i, d in enumerate(DAYS):
            day = build_day(sc, data, d, args.homes, 10_000 + 100 * seed + i, fc, GameConfig(),
                            keep_equilibrium=True)
            held = np.array([j for j, b in enumerate(day.homes.building)
                             if b in HELD_OUT_BUILDINGS], dtype=np.int64)
            held_count.append(int(held.size))
            ref = no_trading(day)
            plain, det = EnvConfig(perturb=False), EnvConfig(perturb=False, deterministic=True)
            eps = {"rl": run(day, onnx_controller(pols["prob"]), plain, seed),
                   "rl_deterministic": run(day, onnx_controller(pols["det"]), det, seed),
                   "equilibrium": run(day, equilibrium, plain, seed),
                   "self_consumption": run(day, self_consumption, plain, seed),
                   "no_trading": ref}
            for name, ep in eps.items():
                units.setdefault(name, []).append(unit_metrics(ep, ref, held))
            print(f"seed {seed} day {d}: " + ", ".join(
                f"{k} {units[k][-1]['cost_eur']:.3f}" for k in eps), flush=True)
    table = {name: {m: ci([u[m] for u in us]) for m in METRICS} for name, us in units.items()}
    paired = {}
    for m in METRICS:  # same communities, so the differences are paired per unit
        for other in ("rl_deterministic", "equilibrium", "self_consumption"):
            diff = [a[m] - b[m] for a, b in zip(units["rl"], units[other], strict=True)]
            paired[f"rl_minus_{other}_{m}"] = ci(diff)
    report = {
        "what": "policy evaluation in the policy environment (models/policy/core.py) on "
                "held-out days and homes; per-home metrics over homes on held-out buildings",
        "days": [str(d) for d in DAYS], "homes_per_community": args.homes,
        "held_out_buildings": list(HELD_OUT_BUILDINGS),
        "held_out_homes_per_unit": held_count,
        "units": len(units["rl"]), "runs": [str(r) for r in args.runs],
        "ci": "95% BCa bootstrap over units (scipy.stats.bootstrap, 5000 resamples)",
        "table": table, "paired_differences": paired, "exports": exported,
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "wall_s": round(time.perf_counter() - began, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    for key, row in paired.items():
        print(f"{key:48s} {row['mean']:+.4f} [{row['ci95'][0]:+.4f}, {row['ci95'][1]:+.4f}]")
    for name, row in table.items():
        print(f"{name:18s} " + "  ".join(
            f"{m} {row[m]['mean']:.4f} [{row[m]['ci95'][0]:.4f}, {row[m]['ci95'][1]:.4f}]"
            for m in METRICS))


if __name__ == "__main__":
    main()
