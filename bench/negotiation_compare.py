"""Before and after side by side: `bench.negotiation` on two copies of the code, alternated.

    python -m bench.negotiation_compare --before-dir /tmp/main-export --homes 100 \
        --interval-real-s 3 --intervals 10 --repeats 3 \
        --json bench/results/negotiation_compare_100.json

`--before-dir` holds the other code (e.g. `git archive main | tar -x -C DIR`); this
checkout's `bench/` drives both (each run is `python -m bench.negotiation` with its working
directory in that tree, so its `agent/` is the one imported; every run's JSON names the
`agent_source` it ran). Runs alternate before, after, before, … with the same seed per pair,
so both meet the same load on a shared machine. Each run's JSON goes to `--runs-dir`; the
summary has, per side, the median of each figure over the runs and a 95 % interval
(Student t over the runs), and the paired ratio before/after of CPU per trade.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
# Two-sided 95 % Student t quantiles by degrees of freedom.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
       9: 2.262}


def figures(r: dict[str, Any]) -> dict[str, float]:
    lat, cpu = r["latency_ms"], r["cpu_ms_per_trade"]
    return {"p50_ms": lat["p50"], "p95_ms": lat["p95"], "p99_ms": lat["p99"],
            "within_100ms": r["within_100ms"], "messages_per_trade": r["messages_per_trade"],
            "matched_energy_share": r["matched_energy_share"], "trades": r["trades"],
            "cpu_ms_per_trade_homes": cpu["homes"], "cpu_ms_per_trade_broker": cpu["broker"],
            "cpu_ms_per_trade_node": cpu["node"], "cpu_ms_per_trade_all": cpu["all"],
            "moves_refused_credit": r["counters"].get("moves_refused_credit", 0),
            "paid_share": paid_share(r), "load_avg_1m_before": r["load_avg_1m"]["before"]}


def paid_share(r: dict[str, Any]) -> float:
    """Of the sellers' trades, the share paid by the window's end."""
    s = r["trade_states"]
    sold = sum(v for k, v in s.items() if k.startswith("seller:"))
    return round(s.get("seller:paid", 0) / sold, 4) if sold else 0.0


def summary(values: list[float]) -> dict[str, float]:
    m = statistics.fmean(values)
    half = (T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / len(values) ** 0.5
            if len(values) > 1 else float("nan"))
    return {"median": round(statistics.median(values), 4), "mean": round(m, 4),
            "ci95": [round(m - half, 4), round(m + half, 4)]}


def run_one(tree: Path, args: argparse.Namespace, seed: int, out: Path, label: str) -> None:
    cmd = [sys.executable, "-m", "bench.negotiation", "--homes", str(args.homes),
           "--intervals", str(args.intervals), "--interval-real-s", str(args.interval_real_s),
           "--seed", str(seed), "--path", args.path, "--label", label, "--json", str(out)]
    print(f"[{label} seed {seed}] {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=tree, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--before-dir", required=True)
    ap.add_argument("--homes", type=int, default=100)
    ap.add_argument("--intervals", type=int, default=10)
    ap.add_argument("--interval-real-s", type=float, default=3.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--path", choices=("expost", "forward"), default="expost")
    ap.add_argument("--runs-dir", default="bench/results/negotiation_runs")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    runs_dir = Path(args.runs_dir).resolve()
    runs_dir.mkdir(parents=True, exist_ok=True)
    trees = {"before": Path(args.before_dir).resolve(), "after": HERE}
    files: dict[str, list[str]] = {"before": [], "after": []}
    for i in range(args.repeats):
        for side in ("before", "after"):
            out = runs_dir / f"{side}_{args.homes}_{args.interval_real_s:g}s_r{i + 1}.json"
            run_one(trees[side], args, args.seed + i, out, side)
            files[side].append(str(out.relative_to(HERE)) if out.is_relative_to(HERE)
                               else str(out))
    result: dict[str, Any] = {"homes": args.homes, "interval_real_s": args.interval_real_s,
                              "intervals": args.intervals, "repeats": args.repeats,
                              "path": args.path}
    each: dict[str, list[dict[str, float]]] = {}
    for side, paths in files.items():
        runs = [json.loads((HERE / p if not Path(p).is_absolute() else Path(p)).read_text())
                for p in paths]
        each[side] = [figures(r) for r in runs]
        result[side] = {"files": paths, "agent_source": sorted(
            {s for r in runs for s in r["agent_source"]}),
            **{k: summary([e[k] for e in each[side]]) for k in each[side][0]},
            "each": each[side]}
    ratios = [b["cpu_ms_per_trade_all"] / a["cpu_ms_per_trade_all"]
              for b, a in zip(each["before"], each["after"], strict=True)]
    homes = [b["cpu_ms_per_trade_homes"] / a["cpu_ms_per_trade_homes"]
             for b, a in zip(each["before"], each["after"], strict=True)]
    result["cpu_per_trade_ratio_before_over_after"] = {"all": summary(ratios),
                                                       "homes": summary(homes)}
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("homes", "interval_real_s", "repeats")} | {
        side: {k: result[side][k]["median"] for k in each[side][0]}
        for side in ("before", "after")} | {
        "ratio": result["cpu_per_trade_ratio_before_over_after"]}, indent=1))


if __name__ == "__main__":
    main()
