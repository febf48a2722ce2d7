"""``peerwatt devices simulate | scan | read``: the device tools in one place."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import structlog

from firmware_bridge.emulator.cli import main as simulate_main
from firmware_bridge.endpoints import Endpoint, SerialEndpoint, TcpEndpoint
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.tools import (
    load_devices,
    read_devices,
    render_readings,
    scan_profiles,
    scan_sunspec,
)

USAGE = "usage: peerwatt devices {simulate,scan,read} [options]"
EXIT_CONFIG = 2


def _scan_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="peerwatt devices scan",
                                description="Find SunSpec models or matching profiles.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--host")
    where.add_argument("--serial", metavar="PATH", help="Modbus RTU line")
    p.add_argument("--port", type=int, default=502)
    p.add_argument("--unit", type=int, default=1)
    p.add_argument("--baudrate", type=int, default=9600)
    p.add_argument("--parity", default="N", choices=["N", "E", "O"])
    p.add_argument("--stopbits", type=int, default=1, choices=[1, 2])
    p.add_argument("--timeout-s", type=float, default=1.0)
    return p


async def _scan(endpoint: Endpoint, unit: int, timeout_s: float) -> str:
    sunspec = await scan_sunspec(endpoint, unit, timeout_s)
    if sunspec is not None:
        return sunspec
    return "no SunSpec map; built-in profiles:\n" + await scan_profiles(endpoint, unit, timeout_s)


def scan_main(argv: list[str]) -> int:
    args = _scan_parser().parse_args(argv)
    endpoint: Endpoint = (
        TcpEndpoint(args.host, args.port) if args.host is not None
        else SerialEndpoint(args.serial, args.baudrate, args.parity, args.stopbits)
    )
    try:
        print(asyncio.run(_scan(endpoint, args.unit, args.timeout_s)))
    except DeviceUnavailable as exc:
        print(f"peerwatt devices scan: {exc}", file=sys.stderr)
        return 1
    return 0


def read_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="peerwatt devices read",
                                description="One reading of every configured device.")
    p.add_argument("--config", type=Path, required=True,
                   help="TOML with [device] (an agent config) or [[devices]]")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = p.parse_args(argv)
    try:
        configs = load_devices(args.config)
        result = asyncio.run(read_devices(configs))
    except DeviceConfigError as exc:
        print(f"peerwatt devices read: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(render_readings(result, args.json))
    return 1 if any("error" in entry for entry in result.values()) else 0


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Tools print tables or JSON on stdout: log only warnings, and to stderr."""
    saved = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**saved)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    tools = {"scan": scan_main, "read": read_main}
    if argv and argv[0] == "simulate":
        return simulate_main(argv[1:])
    if not argv or argv[0] not in tools:
        print(f"peerwatt devices: {USAGE}", file=sys.stderr)
        return EXIT_CONFIG
    with _quiet_logs():
        return tools[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
