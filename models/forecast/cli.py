"""`peerwatt data fetch` and `peerwatt models train|export|evaluate forecast`.

    peerwatt data fetch [--cache DIR] [--write-slice]
    peerwatt models train forecast [--quick] [--seed 0] [--run-dir DIR] [--data DIR|FILE]
    peerwatt models export [--run-dir DIR] [--out agent/modelfiles/forecast.onnx]
                           [--baseline-out ...]
    peerwatt models evaluate forecast --json FILE [--quick] [--model ...] [--baseline ...]

`--quick` uses the committed slice (tests/fixtures/forecast/) and a tiny network, so it
needs no download and trains in seconds. Training needs the `train` extra (torch);
fetching and evaluating need only onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.adapters.onnx import ModelError
from models.forecast.windows import FULL, QUICK, SLICE_BUILDINGS
from sim import data

MODELS = Path(__file__).resolve().parents[2] / "agent" / "modelfiles"
SHIPPED = MODELS / "forecast.onnx"
SHIPPED_BASELINE = MODELS / "forecast_baseline_mse.onnx"


def _run_dir(args: argparse.Namespace) -> Path:
    if args.run_dir is not None:
        return Path(args.run_dir)
    return data.cache_dir() / "runs" / ("forecast-quick" if args.quick else "forecast")


def _dataset(args: argparse.Namespace) -> data.Dataset:
    if args.data is not None:
        return data.load(Path(args.data))
    return data.load_slice() if args.quick else data.load()


def data_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peerwatt data")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and checksum the CityLearn 2022 dataset")
    f.add_argument("--cache", type=Path, default=None)
    f.add_argument("--write-slice", action="store_true",
                   help=f"also regenerate the committed test slice {data.SLICE}")
    args = ap.parse_args(argv)
    try:
        out = data.fetch(args.cache)
    except data.DataError as exc:
        print(f"peerwatt data: {exc}", file=sys.stderr)
        return 1
    print(f"dataset ready in {out} (MANIFEST.json lists every file's sha256)")
    if args.write_slice:
        data.write_slice(data.load(out), data.SLICE, SLICE_BUILDINGS, QUICK.train_days[0],
                         QUICK.test_days[1] - QUICK.train_days[0])
        print(f"slice written to {data.SLICE}")
    return 0


def models_main(argv: list[str]) -> int:
    if argv[1:2] == ["policy"]:  # `peerwatt models train|export policy` (issue 9)
        from models.policy.cli import policy_main

        return policy_main(argv)
    ap = argparse.ArgumentParser(prog="peerwatt models")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the forecaster and its MSE baseline")
    e = sub.add_parser("export", help="export a training run to ONNX (parity-checked)")
    v = sub.add_parser("evaluate", help="score an ONNX forecaster on the held-out period")
    for p in (t, v):
        p.add_argument("what", choices=["forecast"])
        p.add_argument("--quick", action="store_true")
        p.add_argument("--data", default=None, help="dataset dir or slice CSV")
    for p in (t, e):
        p.add_argument("--run-dir", default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    e.add_argument("--quick", action="store_true", help="export the quick run")
    e.add_argument("--out", type=Path, default=SHIPPED)
    e.add_argument("--baseline-out", type=Path, default=SHIPPED_BASELINE)
    v.add_argument("--json", type=Path, required=True)
    v.add_argument("--model", type=Path, default=SHIPPED)
    v.add_argument("--baseline", type=Path, default=SHIPPED_BASELINE)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "train":
            return _train(args)
        if args.cmd == "export":
            from models.forecast.train import export

            report = export(_run_dir(args), args.out, args.baseline_out)
            print(json.dumps(report, indent=2))
            return 0
        return _evaluate(args)
    except (data.DataError, ModelError) as exc:
        print(f"peerwatt models: {exc}", file=sys.stderr)
        return 1


def _train(args: argparse.Namespace) -> int:
    try:
        from models.forecast.train import train
    except ImportError:
        print("peerwatt models train: needs torch; install the train extra: "
              "pip install 'peerwatt[train]'", file=sys.stderr)
        return 1
    info = train(_dataset(args), QUICK if args.quick else FULL, _run_dir(args),
                 seed=args.seed, quick=args.quick, threads=args.threads)
    print(json.dumps({k: info[k] for k in ("params", "train_samples", "val_samples",
                                           "wall_s")} |
                     {"run_dir": str(_run_dir(args)),
                      "best_val": {m: info[m]["best_val_loss"] for m in ("prob", "det")}},
                     indent=2))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from models.forecast.evaluate import evaluate

    baseline = args.baseline if args.baseline.is_file() else None
    report = evaluate(_dataset(args), QUICK if args.quick else FULL, args.model, baseline)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    c = report["crps"]
    print(f"CRPS model {c['model']:.4f} | persistence {c['persistence']:.4f} | "
          f"deterministic {c.get('deterministic', float('nan')):.4f} | "
          f"climatology {c['climatology']:.4f}; coverage 80 {report['coverage_80']:.3f}, "
          f"95 {report['coverage_95']:.3f}; latency p50 {report['latency_ms']['p50']:.3f} ms, "
          f"p99 {report['latency_ms']['p99']:.3f} ms -> {args.json}")
    return 0
