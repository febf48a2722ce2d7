"""What a simulated home is and how it is served: its spec (with fault switches that may
change while serving), the listener (TCP or RTU on a serial line) and the faults that
every simulated device shares (late answers, dropped connections)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import SimDevice

from firmware_bridge.emulator.home import EmulatedHome, HomeParams
from firmware_bridge.emulator.sunspec_image import SunSpecLayout
from firmware_bridge.endpoints import SerialEndpoint
from firmware_bridge.profile import Profile

SUNSPEC = "sunspec"  # the profile name that serves the SunSpec register map (= factory.SUNSPEC)

Server = ModbusTcpServer | ModbusSerialServer


@dataclass(slots=True)
class EmulatedHomeSpec:
    """One simulated home and where it is served. Fault fields may change while serving."""

    name: str
    port: int
    unit: int = 1
    params: HomeParams = field(default_factory=HomeParams)
    seed: int = 0
    profile: str | Profile = "peerwatt-sim-home"  # a built-in profile, a Profile, or "sunspec"
    setpoint_timeout_s: float = 1800.0
    serial: SerialEndpoint | None = None  # serve Modbus RTU on this line instead of TCP
    layout: SunSpecLayout = field(default_factory=SunSpecLayout)  # for profile "sunspec"
    delay_s: float = 0.0
    drop: bool = False
    garbage: bool = False
    frozen: bool = False
    home: EmulatedHome | None = field(default=None, init=False)  # set while serving

    @property
    def where(self) -> str:
        return str(self.serial) if self.serial is not None else str(self.port)


def listen(devices: list[SimDevice], host: str, spec: EmulatedHomeSpec) -> Server:
    if spec.serial is None:
        return ModbusTcpServer(devices, address=(host, spec.port))
    line = spec.serial
    return ModbusSerialServer(devices, port=line.path, baudrate=line.baudrate,
                              parity=line.parity, stopbits=line.stopbits, bytesize=line.bytesize)


async def shared_faults(spec: EmulatedHomeSpec, server: Server) -> ExcCodes | None:
    """Answer late (``delay_s``) or drop every connection (``drop``) before serving."""
    if spec.delay_s > 0:
        await asyncio.sleep(spec.delay_s)
    if spec.drop:
        for connection in list(server.active_connections.values()):
            connection.close()
        return ExcCodes.DEVICE_FAILURE  # never arrives: the connection is gone
    return None


async def no_such_unit(
    function_code: int, start: int, address: int, count: int,
    registers: list[int], set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """Every unit id but the served one: "gateway target device failed to respond"."""
    return ExcCodes.GATEWAY_NO_RESPONSE
