"""`make demo` under each battery control, side by side, over several seeds.

Each run is a whole `peerwatt demo` (real broker, lnsim, Modbus devices, coordinator,
`peerwatt run` agents): `plan` (the coordinator's community plan, the default), with
`--mpc` an `mpc` run (each home's own LP on the same signal, `[battery] control = "mpc"`),
and one `policy` run per model given (the coordinator sends prices only, solver "mftg",
and each home's policy decides: the shipped rule, or a trained file; the rule by default
when neither `--policy` nor `--mpc` is given). The same seed gives every
control the same homes, day and profiles, so the differences are paired:

    python -m bench.demo_control --seeds 1,2,3 --policy rule=agent/modelfiles/policy_rule_v2.onnx \\
        --policy rl=RUN/prob.onnx --json bench/results/demo_control.json

Reported per run: the community's cost (€, the measured day; and net of the change of
stored energy, valued as the simulator values it), the cost without trades on
the same meters, the no-trading self-consumption baseline, the peak import, trades, homes
worse off on the tariff and than alone; per control the mean and 95 % interval over
seeds; and every control's paired difference against `plan` and against the first
policy given (cost and peak).
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import time
from pathlib import Path
from typing import Any

from demo import runner
from sim.seeds import interval


def _one(seed: int, control: str, policy: Path | None, homes: int,
         intervals: int) -> dict[str, Any]:
    argv = ["--homes", str(homes), "--intervals", str(intervals), "--seed", str(seed),
            "--control", control]
    if policy is not None:
        argv += ["--policy", str(policy)]
    s = runner.run(runner._parser().parse_args(argv))
    return {"seed": seed, "cost_eur": s["cost_eur"]["peerwatt"],
            "cost_without_trades_eur": s["cost_eur"]["without_trades"],
            "baseline_cost_eur": s["cost_eur"]["baseline"],
            "net_cost_eur": s["cost_net_of_stored_eur"]["peerwatt"],
            "baseline_net_cost_eur": s["cost_net_of_stored_eur"]["baseline"],
            "peak_kw": s["peak_import_kw"]["peerwatt"],
            "baseline_peak_kw": s["peak_import_kw"]["baseline"],
            "trades": s["trades"], "settled_payments": s["settled_payments"],
            "homes_worse_off": s["homes_worse_off"],
            "homes_worse_off_than_alone": s["homes_worse_off_than_alone"],
            "homes_worse_off_than_alone_1pct": s["homes_worse_off_than_alone_1pct"],
            "missing_metered_intervals": s["missing_metered_intervals"],
            "wall_s": s["wall_s"]}


def _paired(runs: dict[str, list[dict[str, Any]]], a: str, b: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("cost_eur", "net_cost_eur", "peak_kw"):
        out[key] = interval([x[key] - y[key] for x, y in zip(runs[a], runs[b], strict=True)])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.demo_control", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--homes", type=int, default=10)
    ap.add_argument("--intervals", type=int, default=96)
    ap.add_argument("--policy", action="append", default=[], metavar="NAME=FILE",
                    help="a policy control to run (repeatable); default: rule = the shipped rule")
    ap.add_argument("--mpc", action="store_true",
                    help="also run each home's own LP on the signal (--control mpc)")
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        import scipy  # noqa: F401  (sim.seeds.interval, at the end: fail before the runs)
    except ImportError:
        ap.error("the 95 % intervals need scipy: pip install -e '.[sim]'")
    signal.signal(signal.SIGTERM, runner._stop_on_sigterm)  # a killed bench stops its demo
    seeds = [int(s) for s in args.seeds.split(",")]
    controls: dict[str, tuple[str, Path | None]] = {"plan": ("plan", None)}
    if args.mpc:
        controls["mpc"] = ("mpc", None)
    for spec in args.policy or ([] if args.mpc else ["rule="]):
        name, _, file = spec.partition("=")
        if not name or name == "plan":
            ap.error(f"--policy {spec!r}: give NAME=FILE, NAME not 'plan'")
        controls[name] = ("policy", Path(file) if file else None)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in controls}
    began = time.monotonic()
    meta: dict[str, Any] = {
        "what": "peerwatt demo per battery control, paired by seed (same homes and day)",
        "homes": args.homes, "intervals": args.intervals, "seeds": seeds,
        "controls": {n: {"control": c, "policy": str(p) if p else
                         ("shipped rule" if c == "policy" else None)}
                     for n, (c, p) in controls.items()},
        "runs": runs}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for seed in seeds:  # seed-major: a session cut short still has paired runs
        for name, (control, policy) in controls.items():
            print(f"seed {seed}: {name} …", file=sys.stderr, flush=True)
            runs[name].append(_one(seed, control, policy, args.homes, args.intervals))
            r = runs[name][-1]
            print(f"seed {seed}: {name}: cost €{r['cost_eur']:.2f} (net of stored energy "
                  f"€{r['net_cost_eur']:.2f}), peak {r['peak_kw']:.2f} kW"
                  f" (baseline €{r['baseline_cost_eur']:.2f}, {r['baseline_peak_kw']:.2f} kW),"
                  f" {r['trades']} trades, {r['homes_worse_off_than_alone']} worse off than"
                  f" alone",
                  file=sys.stderr, flush=True)
            # Every run is kept as it ends: a bench cut short still has its runs.
            args.json.write_text(json.dumps({**meta, "complete": False}, indent=2) + "\n")
    names = list(controls)
    out: dict[str, Any] = {
        **meta, "complete": True,
        "ci95": {n: {k: interval([r[k] for r in runs[n]])
                     for k in ("cost_eur", "net_cost_eur", "peak_kw", "trades",
                               "homes_worse_off",
                               "homes_worse_off_than_alone")}
                 for n in names},
        "paired": {f"{a} - {b}": _paired(runs, a, b) for a, b in
                   [(a, "plan") for a in names[1:]] + [(a, names[1]) for a in names[2:]]},
        "wall_s": round(time.monotonic() - began, 1),
        "machine": platform.node(),
    }
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'control':<10} {'cost €':>24} {'net of stored €':>24} {'peak kW':>24}")
    for n in names:
        cells = [out["ci95"][n][k] for k in ("cost_eur", "net_cost_eur", "peak_kw")]
        print(f"{n:<10} " + " ".join(f"{c['mean']:>8} [{c['low']}, {c['high']}]"
                                     for c in cells))
    for k, v in out["paired"].items():
        print(f"{k}: cost {v['cost_eur']}, net {v['net_cost_eur']}, peak {v['peak_kw']}")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
