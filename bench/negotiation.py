"""Negotiation at scale over a real broker: N homes as real MQTT clients.

    python -m bench.negotiation --homes 1000 --intervals 10 \
        --json bench/results/negotiation_1000.json

Starts mosquitto (TCP_NODELAY) on a free port and `peerwatt lnsim` with one stand-in node
per home, then W worker processes, each running its share of the homes on one event loop.
Every home is the daemon's own negotiation stack — `Negotiation` with its signed moves,
shared-subscription matching, spend policy and SQLite journal, invoices from its lnsim node
over pyln-client — without devices or forecasts: each interval, each home draws a position
(seeded) and opens it. `--path expost` (the default, what the daemon runs): after each
interval, the order `MeteredTrading` makes from a metered export or import, one price (the
seller's ask is the buyer's reservation), open in the next interval until its gate; buyers
pay through the daemon's `Settlement`, so the sellers' credit rule (`moves_refused_credit`)
meets honest payers. `--path forward` (before issue 14): orders ahead of delivery with an
opening price and concessions over rounds, never paid. Latency is the seller's, from
publishing the offer to agreement (the invoice comes after), on the wall clock.

CPU is counted over the trading window for each kind of process: the homes (the worker
processes, getrusage), the broker (mosquitto) and the Lightning node (`lnsim`, one
process for every home's node; /proc/PID/stat), each per agreed trade. Bytes and
messages are counted per channel: `offers` (a seller to the buyers' shared group) and
`inbox` (one home to another). The 1-minute load average before and after says how busy
the (shared) machine was.
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

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of a live process (and its waited-for children), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


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
                "intervals": args.intervals, "seed": args.seed + w, "idle": args.idle,
                "path": args.path,
                "workdir": str(workdir / f"w{w}"), "out": str(workdir / f"w{w}.json")}
        # PW_PROFILE=1: each worker's trading window under cProfile, in the run's work dir.
        if os.environ.get("PW_PROFILE"):
            spec["profile"] = str(workdir / f"w{w}.prof")
        spec_file = workdir / f"w{w}.spec.json"
        spec_file.write_text(json.dumps(spec))
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.negotiation_worker",
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
    ap.add_argument("--idle", action="store_true",
                    help="open no positions: the CPU the homes, broker and node spend idle")
    ap.add_argument("--path", choices=("expost", "forward"), default="expost",
                    help="expost: orders on the meters, as the daemon trades; forward: the old "
                         "market ahead of delivery (opening price, concessions)")
    ap.add_argument("--label", default="", help="a name for the code under test, kept in the JSON")
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
        pids = {name: p.pid for name, p in fleet.procs if name in ("broker", "lnsim")}
        time.sleep(max(0.0, epoch - time.time()))
        load0 = os.getloadavg()[0]
        cpu0 = {k: _proc_cpu_s(pid) for k, pid in pids.items()}
        time.sleep(max(0.0, epoch + args.intervals * args.interval_real_s - time.time()))
        cpu1 = {k: _proc_cpu_s(pid) for k, pid in pids.items()}
        load1 = os.getloadavg()[0]
        codes = [p.wait() for p in procs]
        if any(codes):
            sys.exit(f"worker(s) failed: {codes}; logs and state in {workdir}")
    parts = [json.loads((workdir / f"w{w}.json").read_text()) for w in range(len(procs))]
    lat = np.asarray([x for p in parts for x in p["latencies_ms"]])
    trades = sum(p["trades"] for p in parts)
    sent = sum(p["moves_sent"] for p in parts)
    offers = sum(p["offers"] for p in parts)
    window = max(p["window_s"] for p in parts)
    cpu = {"homes": sum(p["cpu_s"] for p in parts), "broker": cpu1["broker"] - cpu0["broker"],
           "node": cpu1["lnsim"] - cpu0["lnsim"]}
    cpu["all"] = sum(cpu.values())
    channels = sorted({k for p in parts for k in p["channel_bytes"]})
    chan = {k: {"messages": sum(p["channel_messages"].get(k, 0) for p in parts),
                "bytes": sum(p["channel_bytes"].get(k, 0) for p in parts)} for k in channels}
    for c in chan.values():
        c["bytes_per_message"] = round(c["bytes"] / c["messages"], 1) if c["messages"] else None
        c["bytes_per_trade"] = round(c["bytes"] / trades, 1) if trades else None
        c["bytes_per_s_per_home"] = round(c["bytes"] / window / args.homes, 2) if window else None
    sources = sorted({p["agent_source"] for p in parts})
    states = {k: sum(p["trade_states"].get(k, 0) for p in parts)
              for k in sorted({k for p in parts for k in p["trade_states"]})}
    result: dict[str, Any] = {
        "path": args.path, "label": args.label, "agent_source": sources,
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
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "homes_cpu_sys_share": round(sum(p["cpu_sys_s"] for p in parts) / max(1e-9, cpu["homes"]),
                                     3),
        "cpu_ms_per_trade": {k: round(1000 * v / trades, 3) if trades else None
                             for k, v in cpu.items()},
        "cpu_cores": {k: round(v / window, 4) if window else None for k, v in cpu.items()},
        "messages_per_s": round(sent / window, 1) if window else None,
        "channels": chan,
        "load_avg_1m": {"before": round(load0, 2), "after": round(load1, 2)},
        "nice": os.nice(0), "cpus": os.cpu_count(),
        "moves_refused": sum(p["refused"] for p in parts),
        "energy_beyond_positions_wh": sum(p["over_wh"] for p in parts),
        "offers": offers, "moves_sent": sent, "trade_states": states,
        "counters": {k: sum(p["counters"].get(k, 0) for p in parts)
                     for k in sorted({k for p in parts for k in p["counters"]})},
    }
    print(f"work dir (logs, profiles): {workdir}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
