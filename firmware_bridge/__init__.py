"""Modbus device I/O for meters, inverters and batteries. Never imports `agent`.

- :mod:`firmware_bridge.factory`: :func:`open_device` builds the right device from settings.
- :mod:`firmware_bridge.profile`: register maps as TOML data files (``profiles/``).
- :mod:`firmware_bridge.device`: :class:`ModbusDevice`, a profile over Modbus TCP or RTU.
- :mod:`firmware_bridge.sunspec_device`: :class:`SunSpecDevice`, discovered and decoded with
  the SunSpec model definitions pysunspec2 ships.
- :mod:`firmware_bridge.emulator.home` / :mod:`firmware_bridge.emulator.cli`: a synthetic home and
  the pymodbus server that presents it (profile or SunSpec), for the demo and the tests.
- :mod:`firmware_bridge.cli`: ``peerwatt devices simulate | scan | read``.
"""

from firmware_bridge.device import ModbusDevice
from firmware_bridge.endpoints import SerialEndpoint, TcpEndpoint
from firmware_bridge.errors import DeviceConfigError, DeviceError, DeviceUnavailable, ProfileError
from firmware_bridge.factory import Device, DeviceConfig, open_device
from firmware_bridge.health import DeviceStats, Health
from firmware_bridge.measurement import MEANINGS, Measurement
from firmware_bridge.profile import Profile, RegisterSpec, builtin_profile, load_profile
from firmware_bridge.sunspec_device import SunSpecDevice

__all__ = [
    "MEANINGS",
    "Device",
    "DeviceConfig",
    "DeviceConfigError",
    "DeviceError",
    "DeviceStats",
    "DeviceUnavailable",
    "Health",
    "Measurement",
    "ModbusDevice",
    "Profile",
    "ProfileError",
    "RegisterSpec",
    "SerialEndpoint",
    "SunSpecDevice",
    "TcpEndpoint",
    "builtin_profile",
    "load_profile",
    "open_device",
]
