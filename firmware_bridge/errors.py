"""The errors a device raises. No pymodbus exception crosses this package's boundary.

``DeviceUnavailable`` is transient (a timeout, a refused or dropped connection, a busy
device): retry later. ``DeviceConfigError`` is permanent (a bad profile, a register the
device does not have, a write to a read-only device): retrying cannot help.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every error a device raises."""


class DeviceUnavailable(DeviceError):
    """Transient: the device did not answer, refused or dropped the connection, or was busy."""


class DeviceConfigError(DeviceError):
    """Permanent: the profile or the request does not fit the device."""


class ProfileError(DeviceConfigError):
    """A register profile file is missing, unreadable or invalid."""
