"""`peerwatt simulate` serial against a Dask cluster, side by side in one run.

    nice -n 10 python -m bench.simulate_compare --agents 200 --days 1 --seeds 0-3 \
        --json bench/results/simulate_compare.json

Runs the same command with `--cluster serial` and with `--cluster local` (or `--cluster
ADDRESS`), alternating `--repeat` times, and reports each one's wall time, the ratio of the
medians, whether the two JSON files agree (timing keys aside), and the load average around
each run (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Keys measured on the wall clock or of one process: they differ between any two runs.
TIMINGS = {"wall_s", "peak_rss_mb", "coordinator_solve_s", "solve_s", "negotiation_latency_ms"}


def untimed(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if k not in TIMINGS}
    if isinstance(x, list):
        return [untimed(v) for v in x]
    return x


def _run(common: list[str], where: str, workers: int, out: Path) -> dict[str, Any]:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "peerwatt", "simulate", *common, "--cluster", where,
           "--json", str(out)] + (["--workers", str(workers)] if workers else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return {"cluster": where, "wall_s": round(time.perf_counter() - t0, 2),
            "load_avg_1m_before": round(load0, 2), "load_avg_1m_after":
            round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--seeds", default="0-3")
    ap.add_argument("--byzantine", type=float, help="add the Byzantine sweep (its share F)")
    ap.add_argument("--cluster", default="local", help="what to compare with serial")
    ap.add_argument("--workers", type=int, default=0, help="local cluster processes")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--signal-every", type=int, default=4)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    common = ["--agents", str(args.agents), "--days", str(args.days),
              "--signal-every", str(args.signal_every)]
    if "," in args.seeds or "-" in args.seeds:
        common += ["--seeds", args.seeds]
    else:
        common += ["--seed", args.seeds]
    if args.byzantine is not None:
        common += ["--byzantine", str(args.byzantine)]
    tmp = Path(tempfile.mkdtemp(prefix="pw-simcmp-"))
    runs: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}
    for i in range(args.repeat):
        for where in ("serial", args.cluster):
            out = tmp / f"{where.replace('/', '_')}-{i}.json"
            runs.append(_run(common, where, args.workers, out))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
            outputs.setdefault(where, untimed(json.loads(out.read_text())))
    med = {w: statistics.median(r["wall_s"] for r in runs if r["cluster"] == w)
           for w in ("serial", args.cluster)}
    result = {
        "command": "peerwatt simulate " + " ".join(common),
        "cpus": os.cpu_count(), "workers": args.workers or os.cpu_count(),
        "runs": runs,
        "median_wall_s": med,
        "speedup_serial_over_cluster": round(med["serial"] / med[args.cluster], 3),
        "json_identical_untimed": outputs["serial"] == outputs[args.cluster],
        "untimed_keys": sorted(TIMINGS),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
