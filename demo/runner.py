"""`peerwatt demo`: a community of homes trading one simulated day through real parts.

Starts, as child processes: an MQTT broker, one lnsim process serving a stand-in node
per home, one device-simulator process serving a Modbus TCP server per home, the
coordinator and N `peerwatt run` agents with generated configs, all on one accelerated
clock. Afterwards it reads the agents' journals and writes a summary and a plot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyln.client import RpcError

from agent.adapters.journal import JournalError
from agent.adapters.journal_reader import JournalReader
from agent.crypto.signal_sig import load_or_create_key, public_hex
from agent.domain.units import tariff_from_eur
from agent.settings import MarketSettings
from demo.procs import Fleet, free_ports, peerwatt_cmd, wait_port
from demo.report import plot, table
from demo.summary import HomeRun, settled_on_nodes, summarise
from firmware_bridge.emulator.cli import varied_params
from firmware_bridge.emulator.home import HomeParams

INTERVAL_S = 900
# Simulated lead-in before the measured day: a day, so the forecasters have seen one (a
# cold start forecasts no PV, and the plan then buys at night what the sun would give).
LEAD_INTERVALS = 96
CAPACITY_EUR_PER_KW_YEAR = 48.8  # the coordinator's plan prices the peak (capacity.toml)
# --control -> the coordinator's solver
SOLVERS = {"plan": "equilibrium", "mpc": "equilibrium", "policy": "mftg"}


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for generated configs: nested tables of strings, numbers and booleans."""
    scalars, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(to_toml(value, f"{prefix}{key}."))
        elif isinstance(value, bool):
            scalars.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            scalars.append(f"{key} = {value!r}")
        else:
            scalars.append(f"{key} = {json.dumps(str(value))}")
    head = f"[{prefix[:-1]}]\n" if prefix and scalars else ""
    return head + "".join(s + "\n" for s in scalars) + "\n" + "".join(tables)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peerwatt demo", description=__doc__)
    p.add_argument("--homes", type=int, default=10)
    p.add_argument("--intervals", type=int, default=96, help="15-minute intervals to run")
    p.add_argument("--speed", type=float, default=720.0,
                   help="simulated seconds per real second (720: one interval in 1.25 s)")
    p.add_argument("--out", type=Path, default=Path("peerwatt-demo"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lead", type=int, default=LEAD_INTERVALS,
                   help="intervals simulated before the measured day (forecasters warm up)")
    p.add_argument("--date", default="2026-04-15", help="simulated day (UTC)")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, journals)")
    p.add_argument("--broker", choices=["auto", "embedded"], default="auto",
                   help="auto: mosquitto if on PATH, else the embedded amqtt (MQTT 3.1.1)")
    p.add_argument("--control", choices=list(SOLVERS), default="mpc",
                   help="mpc (the default): each home plans its battery with its own LP on "
                        "the coordinator's signal ([battery] control = \"mpc\"); plan: "
                        "homes follow the coordinator's community plan (solver "
                        "'equilibrium'); policy: the coordinator sends prices only (solver "
                        "'mftg') and each home's policy model decides")
    p.add_argument("--policy", type=Path, default=None,
                   help="the homes' policy model ([models] policy; default: the shipped "
                        "rule); decides only with --control policy or without a plan")
    return p


def coordinator_config(args: argparse.Namespace, broker: dict[str, Any],
                       clock: dict[str, Any], key_file: Path) -> dict[str, Any]:
    # The plan prices the community's peak as the simulator's default scenario does
    # (scenarios/capacity.toml: the Flemish capacity tariff, €48.8/kW/year).
    return {"broker": broker, "market": {"community": "demo"}, "clock": clock,
            "key_file": str(key_file), "solver": SOLVERS[args.control],
            "capacity_eur_per_kw_year": CAPACITY_EUR_PER_KW_YEAR}


def agent_config(args: argparse.Namespace, name: str, port: int, broker: dict[str, Any],
                 rpc_socket: str, coordinator_key: str, params: HomeParams, state_dir: Path,
                 clock: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "agent_id": name,
        "device": {"name": name, "port": port, "poll_s": 0.1, "max_age_s": 4 * INTERVAL_S * 0.1},
        "broker": broker,
        "lightning": {"rpc_socket": rpc_socket},
        "market": {"community": "demo", "coordinator_key": coordinator_key},
        "battery": {"capacity_wh": params.battery_kwh * 1000.0,
                    "max_charge_w": params.battery_max_w,
                    "max_discharge_w": params.battery_max_w,
                    "control": "mpc" if args.control == "mpc" else "plan"},
        "paths": {"state_dir": str(state_dir)},
        "clock": clock,
    }
    if args.policy is not None:
        cfg["models"] = {"policy": str(args.policy.resolve())}
    return cfg


def _progress(done: int, total: int, trades: int, started: float, last: list[int]) -> None:
    """A redrawn bar on a terminal; a line every 12 intervals in a log."""
    width = 30
    filled = int(width * done / total)
    text = (f"[{'#' * filled}{'.' * (width - filled)}] interval {done:3d}/{total}"
            f"  trades {trades:5d}  {time.monotonic() - started:5.0f} s")
    if sys.stderr.isatty():
        sys.stderr.write("\r" + text)
    elif done != last[0] and (done % 12 == 0 or done == total):
        sys.stderr.write(text + "\n")
    last[0] = done
    sys.stderr.flush()


def _count_trades(journals: list[Path]) -> int:
    total = 0
    for j in journals:
        if not j.exists():
            continue
        try:
            total += JournalReader(j, timeout_s=0.2).count_trades("seller")
        except JournalError:
            continue
    return total


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="pw-demo-", dir="/tmp"))
    names = [f"home-{i:03d}" for i in range(args.homes)]
    day = datetime.fromisoformat(args.date).replace(tzinfo=UTC)
    day_start = int(day.timestamp())
    first = day_start // INTERVAL_S
    start_sim = float(day_start - args.lead * INTERVAL_S)
    market = MarketSettings(community="demo")
    started = time.monotonic()
    fleet = Fleet(workdir)
    try:
        with fleet.running():
            broker_port, broker_kind = fleet.broker(args.broker)
            broker: dict[str, Any] = {"url": f"mqtt://127.0.0.1:{broker_port}"}
            if broker_kind == "amqtt":
                broker["protocol"] = "3.1.1"
                print("broker: embedded amqtt (MQTT 3.1.1: offers fan out to every buyer; "
                      "install the Debian package 'mosquitto' for MQTT 5)", file=sys.stderr)
            else:
                print(f"broker: mosquitto on 127.0.0.1:{broker_port}", file=sys.stderr)
            rpcs = fleet.lnsim(names)
            base_port = free_ports(args.homes)
            warmup_s = 4.0 + 0.7 * args.homes
            epoch = time.time() + warmup_s
            clock = {"mode": "sim", "epoch_real_s": epoch, "start_sim_s": start_sim,
                     "speed": args.speed}
            sim = fleet.start("devices", peerwatt_cmd(
                "devices", "simulate", "--homes", str(args.homes), "--base-port",
                str(base_port), "--seed", str(args.seed), "--speed", str(args.speed),
                "--epoch-real", str(epoch), "--start-sim", str(start_sim)))
            wait_port(base_port + args.homes - 1, 30.0, sim)
            coord = workdir / "coordinator.toml"
            key_file = workdir / "coordinator.key"
            coordinator_key = public_hex(load_or_create_key(key_file))
            coord.write_text(to_toml(coordinator_config(args, broker, clock, key_file)))
            fleet.start("coordinator", peerwatt_cmd("coordinator", "--config", str(coord)))
            homes: list[HomeRun] = []
            for i, name in enumerate(names):
                params = varied_params(args.seed + i)
                cfg = workdir / f"{name}.toml"
                cfg.write_text(to_toml(agent_config(
                    args, name, base_port + i, broker, rpcs[name], coordinator_key, params,
                    workdir / "state" / name, clock)))
                fleet.start(f"agent-{name}", peerwatt_cmd("run", "--config", str(cfg)))
                homes.append(HomeRun(name, workdir / "state" / name / "journal.sqlite",
                                     params, args.seed + i))
            journals = [h.journal for h in homes]
            end_sim = (first + args.intervals + 1) * INTERVAL_S + 0.3 * INTERVAL_S
            last_count, last_poll, last_shown = 0, 0.0, [-1]
            while True:
                now_sim = start_sim + (time.time() - epoch) * args.speed
                done = min(args.intervals, max(0, int((now_sim - day_start) // INTERVAL_S)))
                if time.monotonic() - last_poll > 1.0:
                    last_count, last_poll = _count_trades(journals), time.monotonic()
                _progress(done, args.intervals, last_count, started, last_shown)
                dead = [n for n, p in fleet.procs if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"child process(es) exited early: {', '.join(dead)}; "
                                       f"logs in {workdir / 'logs'}")
                if now_sim >= end_sim:
                    break
                time.sleep(0.2)
            if sys.stderr.isatty():
                sys.stderr.write("\n")
            codes = fleet.stop("agent-")
            bad = {n: c for n, c in codes.items() if c != 0}
            if bad:
                print(f"warning: agents did not exit cleanly: {bad}", file=sys.stderr)
            node_settled: set[str] | None = None
            try:  # what the nodes say, while they still run
                node_settled = settled_on_nodes(list(rpcs.values()))
            except (OSError, ValueError, RpcError) as exc:
                print(f"warning: the nodes could not be read: {exc}", file=sys.stderr)
        tariff = tariff_from_eur(market.retail_eur_per_kwh, market.peak_retail_eur_per_kwh,
                                 market.feed_in_eur_per_kwh, market.eur_per_btc)
        summary = summarise(homes, first=first, n=args.intervals, interval_s=INTERVAL_S,
                            lead=args.lead, start_sim_s=start_sim, tariff=tariff,
                            eur_per_btc=market.eur_per_btc, node_settled=node_settled)
        summary["wall_s"] = round(time.monotonic() - started, 1)
        summary["broker"] = broker_kind
        summary["control"] = args.control
        summary["policy"] = str(args.policy) if args.policy is not None else "shipped rule"
        summary["agent_exit_codes"] = dict(codes.items())
        return summary
    finally:
        if args.keep:
            print(f"work dir kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # the children are stopped on the way out, as on Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    if args.homes < 2:
        print("peerwatt demo: --homes must be at least 2", file=sys.stderr)
        return 2
    if args.policy is not None and not args.policy.is_file():
        print(f"peerwatt demo: --policy {args.policy}: no such file", file=sys.stderr)
        return 2
    try:
        summary = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; children stopped", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"\npeerwatt demo failed: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(summary, args.out / "net_load.png")
    print(table(summary))
    print(f"\nwrote {args.out / 'summary.json'} and {args.out / 'net_load.png'}")
    return 0
