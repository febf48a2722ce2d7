"""A reading from a device: one quantity in SI units, when it was read and where from."""

from __future__ import annotations

from dataclasses import dataclass

# The meanings a device reading can carry, with their SI unit. Positive grid power is
# import; positive battery power is charging; PV power is generation (>= 0).
MEANINGS: dict[str, str] = {
    "grid_power_w": "W",
    "pv_power_w": "W",
    "load_power_w": "W",
    "battery_power_w": "W",
    "battery_soc_pct": "%",
    "battery_setpoint_w": "W",
    "grid_setpoint_w": "W",   # a grid exchange target the inverter holds itself (+ import)
    "import_energy_wh": "Wh",
    "export_energy_wh": "Wh",
}


@dataclass(frozen=True, slots=True)
class Measurement:
    meaning: str
    value: float
    unit: str
    timestamp_s: float
    source: str

    def age_s(self, now_s: float) -> float:
        return now_s - self.timestamp_s
