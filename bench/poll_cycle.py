"""Benchmark: one full device poll cycle over Modbus TCP on loopback, the CPU share of the
device polling at a 1 s poll, and (bench/daemon_cpu.py) the whole agent daemon's CPU share.

The simulator runs in its own process (`peerwatt devices simulate`), so the figures are the
client's: a SunSpec home (discovery once, then per cycle the inverter, MPPT, meter, storage
and battery models: 5 requests, 291 registers) and the same home through the
``peerwatt-sim-home`` register profile (2 requests). The CPU share is process CPU time over
wall time of a loop that, like the agent's metering and decision steps, reads the SunSpec
device every second and writes its battery set-point when it changes.

    python -m bench.poll_cycle [--cycles 500] [--cpu-seconds 30] [--no-daemon] [--out ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from firmware_bridge.device import ModbusDevice
from firmware_bridge.endpoints import TcpEndpoint
from firmware_bridge.modbus_link import LinkConfig
from firmware_bridge.profile import builtin_profile
from firmware_bridge.sunspec_device import SunSpecDevice

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_simulator(port: int, profile: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.cli", "simulate", "--port", str(port),
         "--profile", profile], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"simulator for {profile} did not start")


def _summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "max_ms": round(ordered[-1], 3),
    }


async def _latency(read: Callable[[], Awaitable[object]], cycles: int) -> dict[str, float]:
    for _ in range(20):  # warm up: connect, discover
        await read()
    samples: list[float] = []
    for _ in range(cycles):
        start = time.perf_counter()
        await read()
        samples.append((time.perf_counter() - start) * 1000.0)
    return _summary(samples)


async def _cpu_share(device: SunSpecDevice, seconds: float) -> dict[str, float]:
    """Read every second, write a set-point that changes every 10 s, as the agent would."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    ticks = 0
    while time.monotonic() - wall0 < seconds:
        await device.read()
        await device.set_battery_power(500.0 if (ticks // 10) % 2 else -500.0)
        ticks += 1
        await asyncio.sleep(max(0.0, wall0 + ticks - time.monotonic()))
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    return {"poll_s": 1.0, "wall_s": round(wall_s, 2), "cpu_s": round(cpu_s, 4),
            "cpu_share_pct": round(100.0 * cpu_s / wall_s, 3), "polls": ticks,
            "writes": device.stats.writes}


async def run(cycles: int, cpu_seconds: float) -> dict[str, Any]:
    sunspec_port, profile_port = _free_port(), _free_port()
    procs = [_start_simulator(sunspec_port, "sunspec"),
             _start_simulator(profile_port, "peerwatt-sim-home")]
    try:
        sunspec = SunSpecDevice("bench", TcpEndpoint("127.0.0.1", sunspec_port), 1,
                                link=LinkConfig(timeout_s=2.0))
        profiled = ModbusDevice("bench", TcpEndpoint("127.0.0.1", profile_port), 1,
                                builtin_profile("peerwatt-sim-home"),
                                link=LinkConfig(timeout_s=2.0))
        result = {
            "sunspec_poll_cycle": await _latency(sunspec.read, cycles),
            "profile_poll_cycle": await _latency(profiled.read, cycles),
            "polling_cpu_at_1s_poll": await _cpu_share(sunspec, cpu_seconds),
        }
        await sunspec.close()
        await profiled.close()
        return result
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.poll_cycle", description=__doc__)
    p.add_argument("--cycles", type=int, default=500)
    p.add_argument("--cpu-seconds", type=float, default=30.0)
    p.add_argument("--no-daemon", action="store_true", help="skip the whole-daemon figure")
    p.add_argument("--out", type=Path, default=ROOT / "bench/results/poll_cycle.json")
    args = p.parse_args(argv)
    import logging

    import structlog  # quiet: warnings only
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figures = asyncio.run(run(args.cycles, args.cpu_seconds))
    if not args.no_daemon:
        from bench.daemon_cpu import measure

        figures["daemon_cpu_at_1s_poll"] = measure(args.cpu_seconds)
    report = {
        "benchmark": "firmware_bridge poll cycle over Modbus TCP loopback",
        "when_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": len(__import__("os").sched_getaffinity(0))},
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
