"""Modbus device I/O for meters, inverters and batteries. Never imports `agent`.

- :mod:`firmware_bridge.profile`: register maps as TOML data files (``profiles/``).
- :mod:`firmware_bridge.device`: :class:`ModbusDevice`, reading and writing over Modbus TCP.
- :mod:`firmware_bridge.simhome` / :mod:`firmware_bridge.simulator`: a synthetic home and
  the pymodbus server that presents it, for the demo and the tests.
"""

from firmware_bridge.device import ModbusDevice
from firmware_bridge.errors import DeviceConfigError, DeviceError, DeviceUnavailable, ProfileError
from firmware_bridge.health import DeviceStats, Health
from firmware_bridge.measurement import MEANINGS, Measurement
from firmware_bridge.profile import Profile, RegisterSpec, builtin_profile, load_profile

__all__ = [
    "MEANINGS",
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
    "builtin_profile",
    "load_profile",
]
