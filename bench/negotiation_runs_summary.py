"""Medians and 95 % intervals over repeated `bench.negotiation` runs of one code.

    python -m bench.negotiation_runs_summary \
        bench/results/negotiation_quiet/expost_1000_60s_r*.json \
        --json bench/results/negotiation_quiet/summary_1000_60s.json

The same figures and the same summary (median, mean, Student-t interval over the runs) as
`bench.negotiation_compare`, for runs made without a second code to alternate with (for
example on a machine the bench has to itself). Every run must share homes, interval and
path; the summary names its files and each run's load average.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.negotiation_compare import figures, summary


def summarise(runs: list[dict[str, Any]], files: list[str]) -> dict[str, Any]:
    keys = {(r["homes"], r["interval_real_s"], r["path"]) for r in runs}
    if len(keys) != 1:
        raise ValueError(f"runs differ in (homes, interval_real_s, path): {sorted(keys)}")
    homes, interval, path = keys.pop()
    each = [figures(r) for r in runs]
    return {"homes": homes, "interval_real_s": interval, "path": path, "runs": len(runs),
            "files": files, "labels": sorted({r.get("label", "") for r in runs}),
            "load_avg_1m": [r["load_avg_1m"] for r in runs],
            **{k: summary([e[k] for e in each]) for k in each[0]}, "each": each}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--json", required=True, type=Path)
    args = ap.parse_args()
    runs = [json.loads(p.read_text()) for p in args.runs]
    try:
        result = summarise(runs, [str(p) for p in args.runs])
    except ValueError as exc:
        sys.exit(f"negotiation_runs_summary: {exc}")
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v["median"] for k, v in result.items()
                      if isinstance(v, dict) and "median" in v}, indent=1))


if __name__ == "__main__":
    main()
