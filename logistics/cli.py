"""`peerwatt simulate --domain logistics --agents N [--scenario NAME|FILE] [--seed S]
--json FILE [--report DIR]`: carriers and shippers trading delivery slots, against no
market (first come, first served) and the central optimum (HiGHS); metrics as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from logistics.scenario import load_scenario
from logistics.table import table


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peerwatt simulate --domain logistics",
                                description=__doc__)
    p.add_argument("--domain", choices=("logistics",), default="logistics")
    p.add_argument("--agents", type=int, help="carriers + shippers (default: the scenario's)")
    p.add_argument("--scenario", default="city",
                   help="a file, or a name in scenarios/logistics/ (default: city)")
    p.add_argument("--seed", type=int, help="default: the scenario's")
    p.add_argument("--json", type=Path, required=True, help="write the metrics here")
    p.add_argument("--report", type=Path, help="write PNG plots and index.html here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if importlib.util.find_spec("highspy") is None:
        print("peerwatt simulate: needs highspy (the LP optimum): "
              "pip install 'peerwatt[sim]' or make simulate", file=sys.stderr)
        return 2
    try:
        sc = load_scenario(args.scenario)
    except (FileNotFoundError, ValueError) as exc:
        print(f"peerwatt simulate: {exc}", file=sys.stderr)
        return 2
    agents = args.agents or sc.agents
    if agents < 3:
        print("peerwatt simulate: --agents must be at least 3 for logistics", file=sys.stderr)
        return 2
    seed = sc.seed if args.seed is None else args.seed
    from logistics.engine import simulate  # highspy

    out = simulate(sc, agents, seed)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(table(out))
    if args.report is not None:
        from logistics.report import write_report

        write_report(out, args.report)
        print(f"report: {args.report / 'index.html'}")
    return 0
