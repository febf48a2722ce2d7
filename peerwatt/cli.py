"""`peerwatt`: run | coordinator | doctor | status | demo | simulate | lnsim | devices |
models | data.

The composition root of the command line, and the only module that reaches every part:
the home daemon (`agent`), the coordinator, the stand-in Lightning nodes (`lnsim`), the
fleet simulator (`sim`), the demo, the device tools (`firmware_bridge`) and the model
training code (`models`). Each part is imported only when its subcommand runs, so
`peerwatt run` on a gateway loads the daemon alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.settings import DEFAULT_AGENT_CONFIG, DEFAULT_COORDINATOR_CONFIG

PASSTHROUGH = ("demo", "lnsim", "devices", "models", "data", "simulate")


def _passthrough(cmd: str, rest: list[str]) -> int:
    if cmd in ("models", "data"):
        from models.forecast.cli import data_main, models_main

        return (models_main if cmd == "models" else data_main)(rest)
    if cmd == "lnsim":
        from lnsim.server import main as lnsim_main

        return lnsim_main(rest)
    if cmd == "devices":
        from firmware_bridge.cli import main as devices_main

        return devices_main(rest)
    if cmd == "simulate":
        from sim.cli import main as simulate_main

        return simulate_main(rest)
    from demo.runner import main as demo_main

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
        from bench.solver import main as bench_main

        return bench_main(argv[2:])
    if argv[:2] == ["coordinator", "acl"]:  # the broker's ACL for a community
        from coordinator.acl import main as acl_main

        return acl_main(argv[2:])
    args = build_parser().parse_args(argv)
    if args.cmd == "run":
        from agent.cli import run

        return run(args.config, args.log_level)
    if args.cmd == "coordinator":
        from coordinator.cli import run as run_coordinator

        return run_coordinator(args.config, args.log_level)
    return _passthrough(args.cmd, [])


if __name__ == "__main__":
    sys.exit(main())
