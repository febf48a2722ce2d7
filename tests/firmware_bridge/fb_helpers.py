"""Helpers for the firmware_bridge tests: a settable clock, free ports, fixture types."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

# `firmware_bridge` is not installed in the venv: make the repository root importable.
from firmware_bridge.device import ModbusDevice
from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.sunspec_device import SunSpecDevice

Serve = Callable[..., Awaitable[list[EmulatedHomeSpec]]]
MakeDevice = Callable[..., ModbusDevice]
MakeSunSpec = Callable[..., SunSpecDevice]

START_S = 1_711_972_800.0  # 2024-04-01 12:00 UTC: midday, PV surplus


class FakeClock:
    """Simulated time that moves only when a test moves it."""

    def __init__(self, t_s: float) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
