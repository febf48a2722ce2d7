"""One plotted day of priced risk: the per-home MPC with the chance constraint on its peak
(`--control mpc`) against the same MPC on the forecasts' means only.

    python -m bench.plot_risk --homes 200 --seed 100 --day 2017-06-15 \
        --png docs/risk-day.png --json bench/results/risk_day.json

Top: the community's import, both variants and the homes alone, with the threshold (the
homes-alone daily peak). Middle: the battery homes' mean state of charge. Bottom: one
battery home (the one whose evening differs most): its forecast at 16:00 (mean and the
planned-for quantile), and what it imported under each variant.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from sim.data import load
from sim.engine import NO_TRADING, PEERWATT, Simulation
from sim.homes import build_homes
from sim.policies import MpcControl, StepView
from sim.scenario import load_scenario

Floats = npt.NDArray[np.float64]


class Recording(MpcControl):
    """The MPC, keeping each step's state of charge and the 16:00 forecast."""

    def __init__(self, sim: Simulation, probabilistic: bool) -> None:
        super().__init__(sim, probabilistic)
        self.soc: list[Floats] = []
        self.at_16: tuple[Floats, Floats] | None = None

    def setpoint_w(self, v: StepView) -> Floats:
        self.soc.append(v.soc_pct.copy())
        if v.s == 64:
            self.at_16 = (v.mean_kw[:, :20].copy(), v.std_kw[:, :20].copy())
        return super().setpoint_w(v)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--homes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--day", default="2017-06-15")
    ap.add_argument("--png", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    sc = load_scenario("capacity").model_copy(
        update={"start_day": date.fromisoformat(args.day)})
    homes = build_homes(sc, load(None), args.homes, 1, args.seed)
    sim = Simulation(sc, homes, OnnxForecaster(shipped("forecast.onnx")),
                     OnnxPolicy(shipped(DEFAULT_POLICY)), args.seed)
    eur = sim.eur_per_msat
    alone = sim.run(NO_TRADING)
    runs, recs = {}, {}
    for prob in (True, False):
        rec = Recording(sim, prob)
        runs[prob] = sim.run(replace(PEERWATT, control="mpc", probabilistic=prob),
                             controller=rec)
        recs[prob] = rec
    bat = np.flatnonzero(homes.capacity_wh > 0)
    evening = slice(68, 84)  # 17:00-21:00
    diff = np.abs(runs[True].grid_kw[bat, evening] - runs[False].grid_kw[bat, evening]).sum(1)
    home = int(bat[int(np.argmax(diff))])
    z = recs[True].z
    hours = np.arange(homes.steps) / 4.0
    threshold = float(alone.peaks_kw.max())

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    ax[0].plot(hours, alone.import_kw, color="grey", lw=1, label="homes alone")
    ax[0].plot(hours, runs[False].import_kw, color="tab:orange", label="MPC, means only")
    ax[0].plot(hours, runs[True].import_kw, color="tab:blue", label=f"MPC, peak at mean + {z:.2f}σ")
    ax[0].axhline(threshold, color="k", ls="--", lw=1, label="threshold (alone's peak)")
    ax[0].set_ylabel("community import, kW")
    ax[0].legend(fontsize=8)
    for prob, colour in ((False, "tab:orange"), (True, "tab:blue")):
        soc = np.array(recs[prob].soc)[:, bat].mean(axis=1)
        ax[1].plot(hours, soc, color=colour)
    ax[1].set_ylabel("battery homes' mean SoC, %")
    at = recs[True].at_16
    assert at is not None
    fh = 16 + np.arange(at[0].shape[1]) / 4.0
    ax[2].fill_between(fh, at[0][home], at[0][home] + z * at[1][home], color="tab:blue",
                       alpha=0.2, label=f"16:00 forecast: mean to mean + {z:.2f}σ")
    ax[2].plot(fh, at[0][home], color="tab:blue", lw=1, ls=":")
    ax[2].plot(hours, runs[False].grid_kw[home], color="tab:orange", label="import, means only")
    ax[2].plot(hours, runs[True].grid_kw[home], color="tab:blue", label="import, chance constraint")
    ax[2].set_ylabel(f"{homes.names[home]}, kW")
    ax[2].set_xlabel("hour of the day")
    ax[2].legend(fontsize=8)
    for a in ax:
        a.axvspan(17, 21, color="k", alpha=0.05)
    fig.suptitle(f"Priced risk, one day ({args.day}, {args.homes} homes, seed {args.seed})")
    fig.tight_layout()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=90)

    def cost(r: object) -> float:
        rr = runs[r]  # type: ignore[index]
        return float((rr.cost_msat - rr.terminal_msat).sum() * eur / homes.n)

    out = {"day": args.day, "homes": args.homes, "seed": args.seed, "peak_z": z,
           "threshold_kw": round(threshold, 2), "home": homes.names[home],
           "variants": {("chance_constraint" if p else "means_only"): {
               "cost_eur_per_home_day": round(cost(p), 4),
               "peak_kw": round(float(runs[p].peaks_kw.max()), 2),
               "intervals_above_threshold": int((runs[p].import_kw > threshold).sum()),
               "capacity_charge_eur": round(float(runs[p].capacity_msat.sum() * eur), 2)}
               for p in (True, False)}}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
