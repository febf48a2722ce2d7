"""The device emulator: ``peerwatt devices simulate`` serves simulated homes over Modbus
TCP, or one home over Modbus RTU on a serial line (``--serial PATH``).

``--profile NAME`` presents each home through a register profile (the built-in
``peerwatt-sim-home``, a vendor profile such as ``eastron-sdm630``), ``--profile sunspec``
(or ``--sunspec``) as a SunSpec device: common, inverter, MPPT, meter, storage, battery.
``--fault-*`` flags inject faults, from ``--fault-after-s`` on, for ``--fault-for-s``.

One home: ``--port P --unit U --seed S`` (home parameters from the flags). A community:
``--homes N --base-port P`` serves homes on ports P..P+N-1 with seeds S..S+N-1 and varied
parameters (some homes without PV or battery), derived from the seed. With ``--speed X``
the homes run on simulated time ``start_sim + (time.time() - epoch_real) * X``, the same
clock the agents and coordinator build from the same three numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable

import numpy as np

from firmware_bridge.emulator.home import HomeParams, uniform_noise
from firmware_bridge.emulator.server import EmulatedHomeSpec, HomeServer, serve_homes
from firmware_bridge.emulator.spec import SUNSPEC
from firmware_bridge.emulator.sunspec_image import SunSpecLayout
from firmware_bridge.endpoints import SerialEndpoint
from firmware_bridge.errors import DeviceConfigError

__all__ = ["EmulatedHomeSpec", "HomeServer", "main", "serve_homes", "varied_params"]


def varied_params(seed: int) -> HomeParams:
    """A plausible, reproducible mix of homes: ~20 % without PV, ~40 % without battery."""
    u = uniform_noise(seed, 100, np.arange(6, dtype=np.int64))
    pv_kwp = 0.0 if u[1] < 0.2 else round(2.0 + 6.0 * float(u[2]), 1)
    battery_kwh = 0.0 if u[3] < 0.4 else round(5.0 + 8.5 * float(u[4]), 1)
    return HomeParams(
        annual_load_kwh=round(2500.0 + 3500.0 * float(u[0])),
        pv_kwp=pv_kwp,
        battery_kwh=battery_kwh,
        battery_max_w=round(battery_kwh * 500.0),  # 0.5 C
        efficiency=0.9,
        initial_soc_pct=round(30.0 + 40.0 * float(u[5])),
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="peerwatt devices simulate",
        description="Serve simulated homes (meter, PV, battery) over Modbus TCP.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="port of a single home")
    p.add_argument("--unit", type=int, default=1, help="Modbus unit id (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--homes", type=int, help="serve N homes on --base-port .. +N-1")
    p.add_argument("--base-port", type=int)
    p.add_argument("--profile", default="peerwatt-sim-home",
                   help="register profile name, or 'sunspec' for the SunSpec map")
    p.add_argument("--sunspec", action="store_const", const=SUNSPEC, dest="profile",
                   help="same as --profile sunspec")
    p.add_argument("--inverter-model", type=int, default=103,
                   choices=[101, 102, 103, 111, 112, 113])
    p.add_argument("--meter-model", type=int, default=203,
                   choices=[201, 202, 203, 204, 211, 212, 213, 214])
    p.add_argument("--battery-model", type=int, default=802, choices=[802, 713])
    p.add_argument("--serial", metavar="PATH", help="serve one home over Modbus RTU on PATH")
    p.add_argument("--baudrate", type=int, default=9600)
    p.add_argument("--parity", default="N", choices=["N", "E", "O"])
    p.add_argument("--stopbits", type=int, default=1, choices=[1, 2])
    f = p.add_argument_group("faults")
    f.add_argument("--fault-delay-s", type=float, default=0.0, help="answer this late")
    f.add_argument("--fault-drop", action="store_true", help="drop every connection")
    f.add_argument("--fault-garbage", action="store_true", help="serve implausible values")
    f.add_argument("--fault-frozen", action="store_true", help="hold energy counters still")
    f.add_argument("--fault-after-s", type=float, default=0.0, help="faults start after this")
    f.add_argument("--fault-for-s", type=float, help="faults last this long (default: on)")
    p.add_argument("--speed", type=float, help="simulated seconds per real second")
    p.add_argument("--epoch-real", type=float, help="unix time the simulated clock starts")
    p.add_argument("--start-sim", type=float, help="simulated unix time at --epoch-real")
    p.add_argument("--setpoint-timeout-s", type=float, default=1800.0,
                   help="simulated seconds before an unrefreshed setpoint reverts")
    d = HomeParams()
    p.add_argument("--annual-load-kwh", type=float, default=d.annual_load_kwh)
    p.add_argument("--pv-kwp", type=float, default=d.pv_kwp)
    p.add_argument("--battery-kwh", type=float, default=d.battery_kwh)
    p.add_argument("--battery-max-w", type=float, default=d.battery_max_w)
    p.add_argument("--initial-soc-pct", type=float, default=d.initial_soc_pct)
    return p


def _specs(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[EmulatedHomeSpec]:
    layout = SunSpecLayout(args.inverter_model, args.meter_model, args.battery_model)
    common = {"unit": args.unit, "profile": args.profile, "layout": layout,
              "setpoint_timeout_s": args.setpoint_timeout_s}
    if args.serial is not None and args.homes is not None:
        parser.error("--serial serves one home: give no --homes")
    if args.homes is not None:
        if args.base_port is None or args.port is not None or args.homes < 1:
            parser.error("--homes N needs --base-port P (and no --port), N >= 1")
        return [
            EmulatedHomeSpec(f"home-{i}", args.base_port + i, seed=args.seed + i,
                             params=varied_params(args.seed + i), **common)
            for i in range(args.homes)
        ]
    if args.port is None and args.serial is None:
        parser.error("give --port P (one home), --serial PATH, or --homes N --base-port P")
    params = HomeParams(args.annual_load_kwh, args.pv_kwp, args.battery_kwh,
                        args.battery_max_w, 0.9, args.initial_soc_pct)
    serial = None if args.serial is None else SerialEndpoint(
        args.serial, args.baudrate, args.parity, args.stopbits)
    return [EmulatedHomeSpec("home-0", args.port or 0, seed=args.seed, params=params,
                             serial=serial, **common)]


async def _faults(specs: list[EmulatedHomeSpec], args: argparse.Namespace) -> None:
    """Switch the requested faults on after ``--fault-after-s``, off after ``--fault-for-s``."""
    wanted = {"delay_s": args.fault_delay_s, "drop": args.fault_drop,
              "garbage": args.fault_garbage, "frozen": args.fault_frozen}
    if not any(wanted.values()):
        return
    await asyncio.sleep(args.fault_after_s)
    for spec in specs:
        for name, value in wanted.items():
            setattr(spec, name, value)
    if args.fault_for_s is not None:
        await asyncio.sleep(args.fault_for_s)
        for spec in specs:
            spec.delay_s, spec.drop, spec.garbage, spec.frozen = 0.0, False, False, False


def _clock(args: argparse.Namespace) -> Callable[[], float]:
    if args.speed is None:
        return time.time
    epoch_real_s = time.time() if args.epoch_real is None else float(args.epoch_real)
    start_sim_s = epoch_real_s if args.start_sim is None else float(args.start_sim)
    speed = float(args.speed)
    return lambda: start_sim_s + (time.time() - epoch_real_s) * speed


async def _run(
    specs: list[EmulatedHomeSpec], args: argparse.Namespace, now_s: Callable[[], float]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tg:
        serving = tg.create_task(serve_homes(specs, host=args.host, now_s=now_s),
                                 name="serve_homes")
        faults = tg.create_task(_faults(specs, args), name="faults")
        await stop.wait()
        serving.cancel()
        faults.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    specs = _specs(args, parser)
    failures: list[BaseException] = []
    try:
        asyncio.run(_run(specs, args, _clock(args)))
    except* (OSError, DeviceConfigError, ValueError) as group:
        failures.extend(group.exceptions)
    for exc in failures:
        print(f"peerwatt devices simulate: {exc}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
