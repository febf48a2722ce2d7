"""A home battery for the emulator: SoC in Wh, power and SoC limits, losses each way.

Pure Python, no I/O. Powers are on the AC side, + charge, - discharge. With one-way
efficiency ``eta = sqrt(round_trip)``, charging P for dt stores ``P*dt*eta`` and
discharging P for dt removes ``P*dt/eta`` from the cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Battery:
    capacity_wh: float
    max_power_w: float
    efficiency: float  # round trip, 0 < efficiency <= 1
    soc_wh: float
    min_soc_pct: float = 5.0
    max_soc_pct: float = 100.0
    charged_wh: float = field(default=0.0, init=False)     # AC energy in, since creation
    discharged_wh: float = field(default=0.0, init=False)  # AC energy out, since creation

    def __post_init__(self) -> None:
        if not 0.0 < self.efficiency <= 1.0:
            raise ValueError(f"efficiency must be in (0, 1], got {self.efficiency}")
        if self.capacity_wh < 0 or self.max_power_w < 0:
            raise ValueError("capacity_wh and max_power_w must be >= 0")
        if not 0.0 <= self.min_soc_pct <= self.max_soc_pct <= 100.0:
            raise ValueError("need 0 <= min_soc_pct <= max_soc_pct <= 100")
        self.soc_wh = min(self.max_wh, max(self.min_wh, self.soc_wh))

    @property
    def one_way_efficiency(self) -> float:
        return math.sqrt(self.efficiency)

    @property
    def min_wh(self) -> float:
        return self.capacity_wh * self.min_soc_pct / 100.0

    @property
    def max_wh(self) -> float:
        return self.capacity_wh * self.max_soc_pct / 100.0

    @property
    def soc_pct(self) -> float:
        return 100.0 * self.soc_wh / self.capacity_wh if self.capacity_wh > 0 else 0.0

    def step(self, setpoint_w: float, dt_s: float) -> float:
        """Run at ``setpoint_w`` for ``dt_s`` as far as limits allow; return the actual power."""
        if dt_s <= 0 or self.capacity_wh <= 0 or not math.isfinite(setpoint_w):
            return 0.0
        hours = dt_s / 3600.0
        eta = self.one_way_efficiency
        power_w = min(self.max_power_w, max(-self.max_power_w, setpoint_w))
        if power_w > 0:
            room_wh = max(0.0, self.max_wh - self.soc_wh)
            power_w = min(power_w, room_wh / (eta * hours))
            self.soc_wh = min(self.max_wh, self.soc_wh + power_w * hours * eta)
            self.charged_wh += power_w * hours
        elif power_w < 0:
            available_wh = max(0.0, self.soc_wh - self.min_wh)
            power_w = -min(-power_w, available_wh * eta / hours)
            self.soc_wh = max(self.min_wh, self.soc_wh + power_w * hours / eta)
            self.discharged_wh -= power_w * hours
        return power_w
