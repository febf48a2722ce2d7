"""Build the right device from a ``[device]`` section: transport (TCP or RTU) and kind
(the SunSpec map when ``profile = "sunspec"``, else a register profile by name or path).

The agent's ``DeviceSettings`` and this package's :class:`DeviceConfig` both fit
:class:`DeviceOptions`, so the daemon and ``peerwatt devices read`` share one code path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from firmware_bridge.control import ControlConfig
from firmware_bridge.device import ModbusDevice
from firmware_bridge.endpoints import Endpoint, SerialEndpoint, TcpEndpoint
from firmware_bridge.health import DeviceStats, Health
from firmware_bridge.measurement import Measurement
from firmware_bridge.modbus_link import LinkConfig
from firmware_bridge.profile import builtin_profile, load_profile
from firmware_bridge.sunspec_device import SunSpecDevice

# The profile name for SunSpec discovery. Not imported from the emulator's simspec: that
# would load the emulator and pymodbus's server into every agent (bench/footprint.py).
SUNSPEC = "sunspec"


class DeviceOptions(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def transport(self) -> Literal["tcp", "rtu"]: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def serial_port(self) -> str: ...
    @property
    def baudrate(self) -> int: ...
    @property
    def parity(self) -> Literal["N", "E", "O"]: ...
    @property
    def stopbits(self) -> Literal[1, 2]: ...
    @property
    def unit(self) -> int: ...
    @property
    def profile(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def read_only(self) -> bool: ...


class DeviceConfig(BaseModel):
    """One device, as in the agent's ``[device]`` section (``poll_s``/``max_age_s`` are the
    agent's and accepted here so the same file works)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "home"
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str = "/dev/ttyUSB0"
    baudrate: Annotated[int, Field(ge=1200, le=921600)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    profile: str = "peerwatt-sim-home"
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    poll_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    max_age_s: Annotated[float, Field(gt=0)] = 60.0
    dry_run: bool = False
    read_only: bool = False


class Device(Protocol):
    label: str
    stats: DeviceStats

    @property
    def health(self) -> Health: ...
    async def read(self) -> Mapping[str, Measurement]: ...
    @property
    def controls_grid(self) -> bool: ...
    async def set_battery_power(self, power_w: float) -> float: ...
    async def set_grid_power(self, power_w: float) -> float: ...
    async def close(self) -> None: ...


def endpoint_of(o: DeviceOptions) -> Endpoint:
    if o.transport == "rtu":
        return SerialEndpoint(o.serial_port, o.baudrate, o.parity, o.stopbits)
    return TcpEndpoint(o.host, o.port)


def open_device(
    o: DeviceOptions, *, now_s: Callable[[], float] = time.time,
    max_charge_w: float | None = None, max_discharge_w: float | None = None,
) -> Device:
    """A :class:`SunSpecDevice` or :class:`ModbusDevice`; a bad profile raises ProfileError."""
    endpoint = endpoint_of(o)
    link = LinkConfig(timeout_s=o.timeout_s)
    control = ControlConfig(dry_run=o.dry_run, read_only=o.read_only,
                            max_charge_w=max_charge_w, max_discharge_w=max_discharge_w)
    if o.profile == SUNSPEC:
        return SunSpecDevice(o.name, endpoint, o.unit, link=link, control=control, now_s=now_s)
    profile = load_profile(o.profile) if o.profile.endswith(".toml") else \
        builtin_profile(o.profile)
    return ModbusDevice(o.name, endpoint, o.unit, profile, link=link, control=control,
                        now_s=now_s)
