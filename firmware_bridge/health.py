"""A device's counters and health: ok, degraded after a failure, down when failures persist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Health = Literal["ok", "degraded", "down"]


@dataclass(slots=True)
class DeviceStats:
    """Counters since start, plus the run of consecutive failed reads or writes."""

    down_after: int = 3
    reads_ok: int = 0
    reads_failed: int = 0
    timeouts: int = 0  # request attempts that hit the deadline
    rejected_values: int = 0
    frozen_counters: int = 0  # readings where a counter stood still while power flowed
    writes: int = 0
    writes_failed: int = 0
    consecutive_failures: int = 0
    last_error: str = ""

    @property
    def health(self) -> Health:
        """``ok`` after a success, ``degraded`` after a failure, ``down`` after ``down_after``."""
        if self.consecutive_failures == 0:
            return "ok"
        if self.consecutive_failures < self.down_after:
            return "degraded"
        return "down"

    def succeeded(self) -> bool:
        """Record a success; return True when it ends a run of failures (a recovery)."""
        recovered = self.consecutive_failures > 0
        self.consecutive_failures = 0
        self.last_error = ""
        return recovered

    def failed(self, error: str) -> bool:
        """Record a failure; return True when it starts a run (the first since a success)."""
        self.consecutive_failures += 1
        self.last_error = error
        return self.consecutive_failures == 1
