"""The per-home MPC's chance-constraint level: cost and peak against z (the peak planned
at mean + z × spread; z = 0 is the means-only peak), the coordinator's plan unchanged.

    python -m bench.risk_sweep --json bench/results/risk_sweep.json

Two communities (seeds 100, 101; not RL training communities), 200 homes, 2017-06-20.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from meanfield.home import Receding
from sim.data import load
from sim.engine import PEERWATT, Simulation
from sim.homes import build_homes
from sim.policies import MpcControl
from sim.scenario import load_scenario

ZS = (0.0, 0.5, 1.2816, 2.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homes", type=int, default=200)
    ap.add_argument("--day", default="2017-06-20")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    sc = load_scenario("capacity").model_copy(
        update={"start_day": date.fromisoformat(args.day)})
    out: dict[str, tuple[float, float]] = {}
    for seed in (100, 101):
        homes = build_homes(sc, load(None), args.homes, 1, seed)
        sim = Simulation(sc, homes, OnnxForecaster(shipped("forecast.onnx")),
                         OnnxPolicy(shipped(DEFAULT_POLICY)), seed)
        eur = sim.eur_per_msat
        for z in ZS:
            r = sim.run(replace(PEERWATT, control="mpc"),
                        controller=MpcControl(sim, True, Receding(peak_z=z)))
            out[f"{seed}/{z}"] = (
                round(float((r.cost_msat - r.terminal_msat).sum() * eur / homes.n), 4),
                round(float(r.peaks_kw.max()), 1))
            print(seed, z, out[f"{seed}/{z}"], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"day": args.day, "homes": args.homes,
                                     "cost_eur_per_home_day_and_peak_kw": out}, indent=1)
                         + "\n")


if __name__ == "__main__":
    main()
