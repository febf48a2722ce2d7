"""The agent daemon's footprint on a gateway: memory, CPU share, SD-card writes per day.

One `peerwatt run` agent reads a SunSpec device emulator (inverter 103, meter 203 and
battery 802 models on one unit: the home's three devices) every second, with mosquitto,
one lnsim node and the coordinator in other processes (not counted). Two phases per
variant, each on a fresh state directory:

- **wall**: the real 15-minute market on the wall clock for `--wall-s` seconds after the
  agent is ready: resident memory (VmRSS at the end, VmHWM the peak) and the CPU share
  (user+system from /proc/PID/stat over the window) — polling, MQTT keepalives, the idle
  loop. A window this short rarely holds a market interval's boundary, so
- **intervals**: the same agent on a simulated clock 60× faster (a 15-minute interval in
  15 s, polling still every real second) for `--intervals` intervals: what each interval
  adds — CPU seconds (decision, forecast, state report) and bytes written (journal rows,
  WAL, checkpoints; /proc/PID/io `write_bytes`, and the log's growth: under systemd that
  stream goes to journald instead).

Per day: CPU share = the wall phase's share + 96 × the per-interval CPU / 86 400 s;
writes = 96 × the per-interval bytes + the wall phase's bytes per second × 86 400.
Variants run one after the other in the same invocation: the same code under different
run-time settings (e.g. MALLOC_ARENA_MAX), or another source tree (PYTHONPATH).

    python -m bench.footprint [--wall-s 120] [--intervals 8] [--python PY] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demo.procs import Fleet, free_port, peerwatt_cmd, wait_port
from demo.runner import to_toml

DAY_S = 86_400.0
INTERVALS_PER_DAY = 96
SPEED = 60.0
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Variant:
    name: str
    what: str
    env: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # another source tree on PYTHONPATH (e.g. the code before)


def _proc(pid: int, name: str) -> str:
    return Path(f"/proc/{pid}/{name}").read_text()


def _cpu_s(pid: int) -> float:
    fields = _proc(pid, "stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    for line in _proc(pid, "status").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _write_bytes(pid: int) -> int:
    for line in _proc(pid, "io").splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise KeyError("write_bytes")


def _memory(pid: int) -> dict[str, Any]:
    """Where the resident memory is: anonymous (Python objects, heaps) vs file-backed
    (shared libraries' pages: clean, shared, evictable), and the largest mappings."""
    roll = {line.split(":")[0]: int(line.split()[1]) for line in
            _proc(pid, "smaps_rollup").splitlines()[1:] if line.split()[1].isdigit()}
    by_file: dict[str, int] = {}
    current = "[anon]"
    for line in _proc(pid, "smaps").splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and not parts[0].endswith(":"):
            current = parts[5] if len(parts) > 5 else "[anon]"
        elif parts and parts[0] == "Rss:":
            by_file[current] = by_file.get(current, 0) + int(parts[1])
    top = sorted(by_file.items(), key=lambda kv: -kv[1])[:8]
    return {"anonymous_mb": round(roll["Anonymous"] / 1024, 1),
            "file_backed_mb": round((roll["Rss"] - roll["Anonymous"]) / 1024, 1),
            "pss_mb": round(roll["Pss"] / 1024, 1),
            "largest_mappings_mb": {Path(k).name or k: round(v / 1024, 1) for k, v in top}}


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _wait_ready(log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and '"agent_ready"' in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
    raise TimeoutError("the agent did not get ready in {:.0f} s; the end of its log:\n{}"
                       .format(timeout_s, "\n".join(tail) or "(no log)"))


def agent_config(broker: dict[str, Any], community: str, device_port: int, rpc: str,
                 state_dir: Path, clock: dict[str, Any]) -> dict[str, Any]:
    """The measured agent's settings (tests/unit/test_u_bench_footprint.py loads them
    with the daemon's own validator, so a new rule cannot break the bench unseen)."""
    return {
        "agent_id": "home-0",
        # on the simulated clock a reading ages `speed` times faster: the validator
        # wants max_age_s above poll_s × speed (three polls, at least the default 60 s)
        "device": {"name": "home-0", "port": device_port, "profile": "sunspec",
                   "poll_s": 1.0, "timeout_s": 1.0,
                   "max_age_s": max(60.0, 3.0 * float(clock.get("speed", 1.0)))},
        "broker": broker, "lightning": {"rpc_socket": rpc},
        "market": {"community": community},
        "battery": {"capacity_wh": 10000.0, "max_charge_w": 5000.0,
                    "max_discharge_w": 5000.0},
        "paths": {"state_dir": str(state_dir)},
        "clock": clock,
    }


def sim_clock(epoch_real_s: float) -> dict[str, Any]:
    """The fast-clock phase's clock: simulated time from 2026-06-01 09:00 UTC, SPEED × real."""
    return {"mode": "sim", "epoch_real_s": epoch_real_s,
            "start_sim_s": datetime(2026, 6, 1, 9, 0, tzinfo=UTC).timestamp(),
            "speed": SPEED}


class Bench:
    def __init__(self, fleet: Fleet, python: str) -> None:
        self.fleet = fleet
        self.python = python
        self.port, self.kind = fleet.broker()
        self.rpc = fleet.lnsim(["home-0"])["home-0"]
        self.device_port = free_port()
        sim = fleet.start("devices", peerwatt_cmd(
            "devices", "simulate", "--sunspec", "--port", str(self.device_port),
            "--battery-kwh", "10", "--battery-max-w", "5000"))
        wait_port(self.device_port, 30.0, sim)

    def _cmd(self, *args: str) -> list[str]:
        return [self.python, "-m", "peerwatt", *args]

    def _env(self, v: Variant) -> dict[str, str]:
        # the source tree on PYTHONPATH: this one unless the variant names another
        return {**v.env, "PYTHONPATH": str(v.source or REPO)}

    def _agent(self, v: Variant, tag: str, clock: dict[str, Any]) -> tuple[Any, Path]:
        work = self.fleet.workdir
        broker = {"url": f"mqtt://127.0.0.1:{self.port}"}
        community = f"fp-{tag}"
        coord = work / f"coordinator-{tag}.toml"
        coord.write_text(to_toml({"broker": broker, "market": {"community": community},
                                  "clock": clock}))
        self.fleet.start(f"coordinator-{tag}", self._cmd("coordinator", "--config",
                                                        str(coord)), env=self._env(v))
        cfg = work / f"agent-{tag}.toml"
        cfg.write_text(to_toml(agent_config(
            broker, community, self.device_port, self.rpc, work / f"state-{tag}", clock)))
        proc = self.fleet.start(f"agent-{tag}", self._cmd("run", "--config", str(cfg)),
                                env=self._env(v))
        log = work / "logs" / f"agent-{tag}.log"
        _wait_ready(log, 120.0)
        return proc, log

    def wall(self, v: Variant, window_s: float) -> dict[str, Any]:
        tag = f"{v.name}-wall"
        proc, log = self._agent(v, tag, {"mode": "wall"})
        time.sleep(5.0)  # past start-up (model load, first decision and report)
        cpu0, io0, log0, t0 = _cpu_s(proc.pid), _write_bytes(proc.pid), log.stat().st_size, \
            time.monotonic()
        time.sleep(window_s)
        wall_s = time.monotonic() - t0
        out = {"window_s": round(wall_s, 1),
               "cpu_share_pct": round(100 * (_cpu_s(proc.pid) - cpu0) / wall_s, 3),
               "rss_mb": round(_status_kb(proc.pid, "VmRSS") / 1024, 1),
               "rss_peak_mb": round(_status_kb(proc.pid, "VmHWM") / 1024, 1),
               "threads": _threads(proc.pid), "memory": _memory(proc.pid),
               "write_bytes_per_s": round((_write_bytes(proc.pid) - io0) / wall_s, 1),
               "log_bytes_per_s": round((log.stat().st_size - log0) / wall_s, 1)}
        self.fleet.stop(f"agent-{tag}", timeout_s=30.0)
        self.fleet.stop(f"coordinator-{tag}", timeout_s=30.0)
        return out

    def intervals(self, v: Variant, n: int) -> dict[str, Any]:
        tag = f"{v.name}-intervals"
        interval_real_s = 900.0 / SPEED
        clock = sim_clock(time.time())
        proc, log = self._agent(v, tag, clock)
        # start measuring just after an interval boundary (+1 s), for n whole intervals
        sim_now = clock["start_sim_s"] + (time.time() - clock["epoch_real_s"]) * SPEED
        time.sleep((900.0 - sim_now % 900.0) / SPEED + 1.0)
        cpu0, io0, log0 = _cpu_s(proc.pid), _write_bytes(proc.pid), log.stat().st_size
        t0 = time.monotonic()
        time.sleep(n * interval_real_s)
        wall_s = time.monotonic() - t0
        out = {"speed": SPEED, "intervals": n, "window_s": round(wall_s, 1),
               "cpu_s": round(_cpu_s(proc.pid) - cpu0, 3),
               "write_bytes": _write_bytes(proc.pid) - io0,
               "log_bytes": log.stat().st_size - log0,
               "rss_mb": round(_status_kb(proc.pid, "VmRSS") / 1024, 1)}
        self.fleet.stop(f"agent-{tag}", timeout_s=30.0)
        self.fleet.stop(f"coordinator-{tag}", timeout_s=30.0)
        return out


def per_day(wall: dict[str, Any], iv: dict[str, Any]) -> dict[str, Any]:
    """Combine: the idle costs per second (wall) + what each interval adds (intervals)."""
    idle_cpu_s = wall["cpu_share_pct"] / 100 * iv["window_s"]
    cpu_per_interval = max(0.0, (iv["cpu_s"] - idle_cpu_s) / iv["intervals"])
    idle_write = wall["write_bytes_per_s"] * iv["window_s"]
    idle_log = wall["log_bytes_per_s"] * iv["window_s"]
    write_per_interval = max(0.0, (iv["write_bytes"] - idle_write) / iv["intervals"])
    log_per_interval = max(0.0, (iv["log_bytes"] - idle_log) / iv["intervals"])
    journal_day = write_per_interval * INTERVALS_PER_DAY + wall["write_bytes_per_s"] * DAY_S
    log_day = log_per_interval * INTERVALS_PER_DAY + wall["log_bytes_per_s"] * DAY_S
    return {
        "cpu_s_per_interval": round(cpu_per_interval, 4),
        "cpu_share_pct": round(wall["cpu_share_pct"]
                               + 100 * cpu_per_interval * INTERVALS_PER_DAY / DAY_S, 3),
        "write_bytes_per_interval": round(write_per_interval),
        "log_bytes_per_interval": round(log_per_interval),
        # write_bytes counts the agent's own files: the journal and, here, its log file
        "disk_writes_mb_per_day": round(journal_day / 1e6, 2),
        "of_which_log_mb_per_day": round(log_day / 1e6, 2),
    }


def run(variants: list[Variant], python: str, wall_s: float, n: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pw-fp-", dir="/tmp"))
    results: dict[str, Any] = {}
    try:
        with Fleet(workdir).running() as fleet:
            bench = Bench(fleet, python)
            for v in variants:
                print(f"footprint: {v.name} ({v.what})", file=sys.stderr, flush=True)
                wall = bench.wall(v, wall_s)
                iv = bench.intervals(v, n)
                results[v.name] = {"what": v.what, "env": v.env,
                                   "source": None if v.source is None else "other tree",
                                   "wall": wall, "intervals": iv, "per_day": per_day(wall, iv)}
                print(json.dumps(results[v.name]), file=sys.stderr, flush=True)
            broker = bench.kind
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"benchmark": "agent daemon footprint (bench/footprint.py)",
            "when_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count()},
            "python": python, "broker": broker, "poll_s": 1.0, "market_interval_s": 900,
            "device": "SunSpec simulator (models 1, 103, 203, 802) over TCP loopback",
            "targets": {"rss_mb": 80, "cpu_share_pct": 2.0}, "variants": results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.footprint", description=__doc__.split("\n")[0])
    ap.add_argument("--wall-s", type=float, default=120.0)
    ap.add_argument("--intervals", type=int, default=8)
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter of the venv to measure (e.g. one with only the "
                    "runtime dependencies, as on a gateway)")
    ap.add_argument("--before", type=Path,
                    help="a source tree of the code before the cuts (git archive), run too")
    ap.add_argument("--source", type=Path,
                    help="the source tree to measure (default: this one), e.g. a `git archive` "
                    "of a commit when the working tree is mid-change")
    ap.add_argument("--out", type=Path, default=Path("bench/results/footprint.json"))
    args = ap.parse_args(argv)
    variants = []
    if args.before is not None:
        variants.append(Variant("before", "the code before the cuts", source=args.before))
    variants += [
        Variant("after", "this code: the device emulator no longer imported by the agent",
                source=args.source),
        Variant("after_env", "this code with MALLOC_ARENA_MAX=2 and OPENBLAS_NUM_THREADS=1",
                env={"MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1"},
                source=args.source),
    ]
    result = run(variants, args.python, args.wall_s, args.intervals)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
