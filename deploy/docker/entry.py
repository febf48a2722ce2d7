"""Entrypoint of the peerwatt image in the compose fleet: the demo's configuration, made
per container, then `exec` of the service's `peerwatt …` command.

Placeholders in the command ({HOMES}, {BASE_PORT}, {SEED}, {SPEED}, {EPOCH}, {START_SIM},
{AGENT_CONFIG}) are filled from the environment and from /shared, the volume every
service mounts: the first container to start fixes the common simulated clock
(clock.json, as `peerwatt demo` does), the coordinator writes its key and public key,
and each agent claims the next free home number (an atomic mkdir under slots/), then
writes its config from lnsim's nodes.json and the coordinator's public key.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

SHARED = Path(os.environ.get("PEERWATT_SHARED", "/shared"))
INTERVAL_S = 900
LEAD_INTERVALS = 2


def _clock(homes: int, speed: float) -> dict[str, float | str]:
    path = SHARED / "clock.json"
    day = int(datetime(2026, 4, 15, tzinfo=UTC).timestamp())
    clock = {"mode": "sim", "epoch_real_s": time.time() + 20.0 + 0.7 * homes,
             "start_sim_s": float(day - LEAD_INTERVALS * INTERVAL_S), "speed": speed}
    try:
        with path.open("x") as f:
            json.dump(clock, f)
    except FileExistsError:
        for _ in range(100):
            try:
                return dict(json.loads(path.read_text()))
            except json.JSONDecodeError:
                time.sleep(0.1)
    return dict(clock)


def _wait(path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"entry: {path} did not appear within {timeout_s:.0f} s")
        time.sleep(0.5)


def _claim(homes: int) -> int:
    (SHARED / "slots").mkdir(parents=True, exist_ok=True)
    for i in range(homes):
        try:
            (SHARED / "slots" / str(i)).mkdir()
            return i
        except FileExistsError:
            continue
    sys.exit(f"entry: all {homes} homes are taken; scale the agents to HOMES or raise it")


def _coordinator(broker: dict[str, str], clock: dict[str, float | str]) -> None:
    from agent.crypto.signal_sig import load_or_create_key, public_hex
    from demo.runner import to_toml

    key_file = SHARED / "coordinator.key"
    pub = public_hex(load_or_create_key(key_file))
    (SHARED / "coordinator.toml").write_text(to_toml({
        "broker": broker, "market": {"community": "demo"}, "clock": clock,
        "key_file": str(key_file)}))
    tmp = SHARED / "coordinator.pub.tmp"
    tmp.write_text(pub)
    tmp.replace(SHARED / "coordinator.pub")


def _agent(broker: dict[str, str], clock: dict[str, float | str], homes: int,
           seed: int) -> str:
    from demo.runner import to_toml
    from firmware_bridge.emulator.cli import varied_params

    i = _claim(homes)
    name = f"home-{i:03d}"
    _wait(SHARED / "ln" / "nodes.json")
    _wait(SHARED / "coordinator.pub")
    nodes = {n["name"]: n["rpc"] for n in json.loads((SHARED / "ln" / "nodes.json").read_text())}
    params = varied_params(seed + i)
    cfg = SHARED / "agents" / f"{name}.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(to_toml({
        "agent_id": name,
        "device": {"name": name, "host": os.environ.get("DEVICES_HOST", "devices"),
                   "port": int(os.environ.get("BASE_PORT", "15020")) + i, "poll_s": 0.1,
                   "max_age_s": 4 * INTERVAL_S * 0.1},
        "broker": broker,
        "lightning": {"rpc_socket": nodes[name]},
        "market": {"community": "demo",
                   "coordinator_key": (SHARED / "coordinator.pub").read_text().strip()},
        "battery": {"capacity_wh": params.battery_kwh * 1000.0,
                    "max_charge_w": params.battery_max_w,
                    "max_discharge_w": params.battery_max_w},
        "paths": {"state_dir": f"/var/lib/peerwatt/{name}"},
        "clock": clock,
    }))
    return str(cfg)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] != "peerwatt":
        os.execvp(argv[0], argv)
    homes = int(os.environ.get("HOMES", "10"))
    seed = int(os.environ.get("SEED", "1"))
    speed = float(os.environ.get("SPEED", "720"))
    SHARED.mkdir(parents=True, exist_ok=True)
    clock = _clock(homes, speed)
    broker = {"url": os.environ.get("BROKER_URL", "mqtt://broker:1883")}
    values = {"HOMES": str(homes), "SEED": str(seed), "SPEED": str(speed),
              "BASE_PORT": os.environ.get("BASE_PORT", "15020"),
              "EPOCH": str(clock["epoch_real_s"]), "START_SIM": str(clock["start_sim_s"])}
    if argv[1] == "coordinator":
        _coordinator(broker, clock)
    if argv[1] == "run":
        values["AGENT_CONFIG"] = _agent(broker, clock, homes, seed)
    cmd = [a.format(**values) if "{" in a else a for a in argv]
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
