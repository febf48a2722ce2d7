"""Negotiation at scale over a real broker: N homes as real MQTT clients.

    python -m bench.negotiation --homes 1000 --intervals 10 \
        --json bench/results/negotiation_1000.json

Starts mosquitto (TCP_NODELAY) on a free port and `peerwatt lnsim` with one stand-in node
per home, then W worker processes, each running its share of the homes on one event loop.
Every home is the daemon's own negotiation stack — `Negotiation` with its signed moves,
shared-subscription matching, spend policy and SQLite journal, invoices from its lnsim node
over pyln-client — without devices or forecasts: each interval, each home draws a surplus or
a deficit (seeded) and opens it, as the decision step would. Latency is the seller's, from
publishing the offer to agreement (invoice created and journaled), on the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from demo.procs import Fleet


def _spawn_workers(args: argparse.Namespace, workdir: Path, broker_port: int,
                   rpcs: dict[str, str], epoch: float) -> list[subprocess.Popen[bytes]]:
    names = sorted(rpcs)
    per = -(-len(names) // args.workers)
    procs = []
    for w in range(args.workers):
        chunk = names[w * per:(w + 1) * per]
        if not chunk:
            continue
        spec = {"homes": {n: rpcs[n] for n in chunk}, "broker_port": broker_port,
                "epoch": epoch, "interval_real_s": args.interval_real_s,
                "intervals": args.intervals, "seed": args.seed + w,
                "workdir": str(workdir / f"w{w}"), "out": str(workdir / f"w{w}.json")}
        spec_file = workdir / f"w{w}.spec.json"
        spec_file.write_text(json.dumps(spec))
        prof = ["-m", "cProfile", "-o", f"/tmp/w{w}.prof"] if os.environ.get("PW_PROFILE") else []
        procs.append(subprocess.Popen([sys.executable, *prof, "-m", "bench.negotiation_worker",
                                       str(spec_file)], stdin=subprocess.DEVNULL))
    return procs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--homes", type=int, default=100)
    ap.add_argument("--intervals", type=int, default=10)
    ap.add_argument("--workers", type=int, default=0, help="processes (default: homes/250, ≥2)")
    ap.add_argument("--interval-real-s", type=float, default=3.0,
                    help="real seconds per 15-minute market interval")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    args.workers = args.workers or max(2, -(-args.homes // 250))
    workdir = Path(tempfile.mkdtemp(prefix="pw-bn-", dir="/tmp"))
    fleet = Fleet(workdir)
    with fleet.running():
        broker_port, kind = fleet.broker()
        if kind != "mosquitto":
            sys.exit("bench.negotiation needs the mosquitto binary (apt-get install mosquitto)")
        names = [f"h{i:05d}" for i in range(args.homes)]
        print(f"starting lnsim with {args.homes} nodes…", file=sys.stderr, flush=True)
        rpcs = fleet.lnsim(names)
        warmup = 8.0 + args.homes * 0.01
        epoch = time.time() + warmup
        print(f"starting {args.workers} workers; trading starts in {warmup:.0f} s",
              file=sys.stderr, flush=True)
        procs = _spawn_workers(args, workdir, broker_port, rpcs, epoch)
        codes = [p.wait() for p in procs]
        if any(codes):
            sys.exit(f"worker(s) failed: {codes}; logs and state in {workdir}")
    parts = [json.loads((workdir / f"w{w}.json").read_text()) for w in range(len(procs))]
    lat = np.asarray([x for p in parts for x in p["latencies_ms"]])
    trades = sum(p["trades"] for p in parts)
    sent = sum(p["moves_sent"] for p in parts)
    offers = sum(p["offers"] for p in parts)
    window = max(p["window_s"] for p in parts)
    result: dict[str, Any] = {
        "homes": args.homes, "intervals": args.intervals, "workers": args.workers,
        "interval_real_s": args.interval_real_s,
        "latency_ms": {q: round(float(np.percentile(lat, v)), 2) if len(lat) else None
                       for q, v in (("p50", 50), ("p95", 95), ("p99", 99))},
        "within_100ms": round(float((lat <= 100).mean()), 4) if len(lat) else None,
        "trades": trades, "messages_per_trade": round(sent / trades, 2) if trades else None,
        "agreement_rate": round(trades / offers, 4) if offers else None,
        "matched_energy_share": round(sum(p["traded_wh"] for p in parts) / max(1.0, sum(
            min(sum(p["supply_wh"][k] for p in parts), sum(p["demand_wh"][k] for p in parts))
            for k in range(args.intervals))), 4),
        "trades_per_s": round(trades / window, 2) if window else None,
        "cpu_s_per_home": round(sum(p["cpu_s"] for p in parts) / args.homes, 4),
        "moves_refused": sum(p["refused"] for p in parts),
        "energy_beyond_positions_wh": sum(p["over_wh"] for p in parts),
        "offers": offers, "moves_sent": sent,
        "counters": {k: sum(p["counters"].get(k, 0) for p in parts)
                     for k in sorted({k for p in parts for k in p["counters"]})},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
