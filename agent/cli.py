"""`peerwatt`: run | coordinator | doctor | status | demo | lnsim | devices."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agent.logging import configure
from agent.settings import (
    DEFAULT_AGENT_CONFIG,
    DEFAULT_COORDINATOR_CONFIG,
    AgentSettings,
    ConfigError,
    CoordinatorSettings,
    load,
)

# sysexits.h EX_CONFIG: the units' RestartPreventExitStatus=78 (no restart loop on a bad file).
EXIT_CONFIG = 78


def _config_failed(exc: ConfigError) -> int:
    for problem in exc.problems:
        print(f"peerwatt: config error in {exc.path}: {problem}", file=sys.stderr)
    return EXIT_CONFIG


def _cmd_run(args: argparse.Namespace) -> int:
    from agent.daemon import run_agent
    from agent.ports import PermanentError
    from agent.supervisor import FatalError

    try:
        settings = load(args.config, AgentSettings)
        settings.broker.credentials()  # a secret file that may not be used: stop here
    except ConfigError as exc:
        return _config_failed(exc)
    configure(args.log_level)
    try:
        asyncio.run(run_agent(settings, args.config))
    except PermanentError as exc:
        print(f"peerwatt: {exc}", file=sys.stderr)
        return 1
    except FatalError as exc:
        print(f"peerwatt: stopped: {exc}", file=sys.stderr)
        return 1
    return 0


def _cmd_coordinator(args: argparse.Namespace) -> int:
    from agent.coordinator.main import run_coordinator

    try:
        settings = load(args.config, CoordinatorSettings)
        settings.broker.credentials()
    except ConfigError as exc:
        return _config_failed(exc)
    configure(args.log_level)
    asyncio.run(run_coordinator(settings))
    return 0


def _passthrough(cmd: str, rest: list[str]) -> int:
    if cmd in ("models", "data"):
        from models.forecast.cli import data_main, models_main

        return (models_main if cmd == "models" else data_main)(rest)
    if cmd == "lnsim":
        from agent.lnsim.server import main as lnsim_main

        return lnsim_main(rest)
    if cmd == "devices":
        from firmware_bridge.cli import main as devices_main

        return devices_main(rest)
    if cmd == "simulate":
        from agent.sim.cli import main as simulate_main

        return simulate_main(rest)
    from agent.demo.runner import main as demo_main

    return demo_main(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peerwatt", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name, default, helptext in (
        ("run", DEFAULT_AGENT_CONFIG, "run the home agent daemon"),
        ("coordinator", DEFAULT_COORDINATOR_CONFIG, "run the community coordinator"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--config", type=Path, default=default)
        p.add_argument("--log-level", default="info",
                       choices=["debug", "info", "warning", "error"])
    for name, helptext in (("demo", "run a simulated community for one day"),
                           ("lnsim", "stand-in Core Lightning nodes on unix sockets"),
                           ("devices", "device tools: simulate, scan, read"),
                           ("models", "forecaster: train, export, evaluate"),
                           ("data", "fetch the real training data (CityLearn 2022)"),
                           ("simulate", "fleet simulation with baselines and metrics"),
                           ("doctor", "check config, device, broker, node, signer, clock, disk"),
                           ("status", "the running agent's metrics, for a person")):
        sub.add_parser(name, help=helptext)
    return parser


PASSTHROUGH = ("demo", "lnsim", "devices", "models", "data", "simulate")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASSTHROUGH:  # these parse their own options
        return _passthrough(argv[0], argv[1:])
    if argv[:1] == ["doctor"]:
        from agent.doctor import main as doctor_main

        return doctor_main(argv[1:])
    if argv[:1] == ["status"]:
        from agent.status import main as status_main

        return status_main(argv[1:])
    if argv[:2] == ["coordinator", "bench"]:  # the solver's benchmark, no config needed
        from agent.coordinator.bench import main as bench_main

        return bench_main(argv[2:])
    args = build_parser().parse_args(argv)
    if args.cmd == "run":
        return _cmd_run(args)
    if args.cmd == "coordinator":
        return _cmd_coordinator(args)
    return _passthrough(args.cmd, [])


if __name__ == "__main__":
    sys.exit(main())
