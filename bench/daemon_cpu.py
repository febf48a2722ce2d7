"""The whole agent daemon's CPU share at a 1 s device poll, on the wall clock.

Starts mosquitto (or the embedded broker), one stand-in Lightning node, the coordinator, a
SunSpec device emulator and one `peerwatt run` agent whose `[device]` is that simulator
(`profile = "sunspec"`, `poll_s = 1.0`) — then reads the agent's user+system CPU time from
/proc over a window after it is ready. Everything else (broker, simulator, node) runs in
other processes and is not counted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from demo.procs import Fleet, free_port, peerwatt_cmd, wait_port
from demo.runner import to_toml


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and '"agent_ready"' in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the agent did not get ready; see {log}")


def measure(window_s: float = 30.0) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pw-bench-", dir="/tmp"))
    try:
        return _measure(workdir, window_s)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _measure(workdir: Path, window_s: float) -> dict[str, Any]:
    with Fleet(workdir).running() as fleet:
        broker_port, broker_kind = fleet.broker()
        rpc = fleet.lnsim(["home-0"])["home-0"]
        device_port = free_port()
        sim = fleet.start("devices", peerwatt_cmd(
            "devices", "simulate", "--sunspec", "--port", str(device_port),
            "--battery-kwh", "10", "--battery-max-w", "5000"))
        wait_port(device_port, 20.0, sim)
        broker = {"url": f"mqtt://127.0.0.1:{broker_port}"}
        if broker_kind != "mosquitto":
            broker["protocol"] = "3.1.1"
        coord = workdir / "coordinator.toml"
        coord.write_text(to_toml({"broker": broker, "market": {"community": "bench"}}))
        fleet.start("coordinator", peerwatt_cmd("coordinator", "--config", str(coord)))
        cfg = workdir / "agent.toml"
        cfg.write_text(to_toml({
            "agent_id": "home-0",
            "device": {"name": "home-0", "port": device_port, "profile": "sunspec",
                       "poll_s": 1.0, "timeout_s": 1.0},
            "broker": broker, "lightning": {"rpc_socket": rpc},
            "market": {"community": "bench"},
            "battery": {"capacity_wh": 10000.0, "max_charge_w": 5000.0,
                        "max_discharge_w": 5000.0},
            "paths": {"state_dir": str(workdir / "state")},
        }))
        agent = fleet.start("agent", peerwatt_cmd("run", "--config", str(cfg)))
        _wait_ready(workdir / "logs" / "agent.log", 60.0)
        time.sleep(3.0)  # past start-up work (model load, first decision)
        cpu0, wall0 = _cpu_s(agent.pid), time.monotonic()
        time.sleep(window_s)
        cpu_s, wall_s = _cpu_s(agent.pid) - cpu0, time.monotonic() - wall0
    return {"poll_s": 1.0, "device": "SunSpec simulator over TCP loopback",
            "broker": broker_kind, "window_s": round(wall_s, 2), "cpu_s": round(cpu_s, 3),
            "cpu_share_pct": round(100.0 * cpu_s / wall_s, 3)}
