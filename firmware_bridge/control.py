"""What a device may do with the battery: limits and safety switches, for every device kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ControlConfig:
    dry_run: bool = False              # log the setpoint, never write it
    read_only: bool = False            # never write to the device, whatever its profile says
    max_charge_w: float | None = None  # the caller's limits (the device's own also apply)
    max_discharge_w: float | None = None
    setpoint_refresh_s: float = 300.0  # rewrite an unchanged setpoint after this long
    revert_s: int = 900                # SunSpec: the inverter reverts by itself after this


DEFAULT_CONTROL = ControlConfig()
