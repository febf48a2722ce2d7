"""`peerwatt models train|export policy`.

    peerwatt models train policy [--quick] [--seed 0] [--run-dir DIR] [--data DIR|FILE]
                                 [--env market|fill] [--episodes N] [--homes N]
    peerwatt models export policy [--quick] [--run-dir DIR] [--variant prob|det] [--out FILE]

`train` (`--env market`, the default) trains in the simulator's market
(`models.policy.market_env`: `sim.engine` days of a community whose battery homes all
learn and move the coordinator's signal); `--env fill` is the earlier environment: it
builds the pool of community days (measured homes, the shipped forecaster, the
coordinator's signal) and trains two PPO variants: `prob` (forecast spreads in the
observation, the shipped one) and `det` (means only, for the evaluation). `--quick` uses
the committed data slice, one small day and a few thousand steps: seconds, for tests.
`export` writes the variant's actor as ONNX and prints size, torch/onnxruntime parity and
single-decision latency. Both need the `train` extra (torch, stable-baselines3).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sim import data

SHIPPED = Path(__file__).resolve().parents[2] / "agent" / "modelfiles" / "policy.onnx"


def _run_dir(args: argparse.Namespace) -> Path:
    if args.run_dir is not None:
        return Path(args.run_dir)
    return data.cache_dir() / "runs" / ("policy-quick" if args.quick else "policy")


def policy_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peerwatt models")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the policy (PPO, shared across homes)")
    e = sub.add_parser("export", help="export a policy run to ONNX (parity-checked)")
    for p in (t, e):
        p.add_argument("what", choices=["policy"])
        p.add_argument("--quick", action="store_true")
        p.add_argument("--run-dir", default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--data", default=None, help="dataset dir or slice CSV")
    t.add_argument("--env", choices=["market", "fill"], default="market",
                   help="market: the simulator's market (default); fill: the earlier "
                        "fill-probability environment")
    t.add_argument("--episodes", type=int, default=None,
                   help="market env: simulated days per variant (default 30; quick 2)")
    t.add_argument("--homes", type=int, default=None,
                   help="market env: homes per training community (default 100; quick 30)")
    t.add_argument("--variants", default="prob,det",
                   help="comma-separated: prob (with spreads), det (means only)")
    e.add_argument("--variant", choices=["prob", "det"], default="prob")
    e.add_argument("--out", type=Path, default=SHIPPED)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "train":
            from models.policy.train import train
        else:
            from models.policy.export import export
    except ImportError as exc:
        print(f"peerwatt models {args.cmd} policy: {exc}; install the train extra: "
              "pip install 'peerwatt[train]'", file=sys.stderr)
        return 1
    run_dir = _run_dir(args)
    try:
        if args.cmd == "train":
            ds = (data.load(Path(args.data)) if args.data is not None
                  else data.load_slice() if args.quick else data.load())
            variants = tuple(v for v in args.variants.split(",") if v)
            if args.env == "market":
                from models.policy.market_train import train_market

                info = train_market(ds, run_dir, quick=args.quick, seed=args.seed,
                                    variants=variants, episodes=args.episodes,
                                    homes=args.homes)
            else:
                info = train(ds, run_dir, quick=args.quick, seed=args.seed,
                             variants=variants)
            print(json.dumps(info | {"run_dir": str(run_dir)}, indent=2))
            return 0
        zip_path = run_dir / f"{args.variant}.zip"
        if not zip_path.is_file():
            print(f"peerwatt models export policy: no trained run at {zip_path}; "
                  "run `peerwatt models train policy` first", file=sys.stderr)
            return 1
        print(json.dumps(export(zip_path, args.out), indent=2))
        return 0
    except data.DataError as exc:
        print(f"peerwatt models: {exc}", file=sys.stderr)
        return 1
