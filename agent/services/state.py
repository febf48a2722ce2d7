"""What the services of one agent share: the latest readings, history, signal, counters."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from agent.ports import FloatArray
from agent.wire import Roster, Signal
from firmware_bridge.measurement import Measurement


@dataclass
class IntervalAverage:
    """Running mean of pre-battery net load (load - PV, W) over one interval."""

    interval: int
    total_w: float = 0.0
    samples: int = 0

    def add(self, net_w: float) -> None:
        self.total_w += net_w
        self.samples += 1

    @property
    def mean_kw(self) -> float:
        return self.total_w / self.samples / 1000.0 if self.samples else 0.0


@dataclass
class Buckets:
    """A fixed-bucket histogram (for the metrics endpoint; no library in the hot path)."""

    bounds: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
    counts: list[int] = field(default_factory=lambda: [0] * 10)
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break
        self.count += 1
        self.total += value

    def cumulative(self) -> list[int]:
        out, running = [], 0
        for c in self.counts:
            running += c
            out.append(running)
        return out


@dataclass
class AgentState:
    agent_id: str
    history_len: int = 96
    readings: dict[str, Measurement] = field(default_factory=dict)
    history_kw: deque[float] = field(default_factory=lambda: deque(maxlen=96))
    current: IntervalAverage | None = None
    signal: Signal | None = None
    signal_received_s: float | None = None
    roster_msg: Roster | None = None  # the coordinator's latest roster (its own message)
    node_id: str = ""
    counters: Counter[str] = field(default_factory=Counter)
    heartbeats: dict[str, float] = field(default_factory=dict)
    device_health: str = "unknown"
    last_completed: tuple[int, float] | None = None  # (interval, mean kW) last appended
    last_net_w: float | None = None  # the latest pre-battery net load (load - PV, W)
    read_seconds: Buckets = field(default_factory=Buckets)  # device poll durations

    def add_sample(self, interval: int, net_w: float) -> None:
        if self.current is None or self.current.interval != interval:
            if self.current is not None and self.current.samples:
                self.history_kw.append(self.current.mean_kw)
                self.last_completed = (self.current.interval, self.current.mean_kw)
            self.current = IntervalAverage(interval)
        self.current.add(net_w)
        self.last_net_w = net_w

    def history(self) -> FloatArray:
        """The last `history_len` interval means, oldest first, padded at the front with the
        oldest known value (or the running interval's mean) on a cold start."""
        known = list(self.history_kw)
        if not known:
            known = [self.current.mean_kw if self.current and self.current.samples else 0.0]
        pad = [known[0]] * (self.history_len - len(known))
        return np.asarray(pad + known, dtype=np.float32)[-self.history_len:]

    def roster(self) -> set[str] | None:
        """The agents the coordinator's latest roster lists (None: no roster yet)."""
        r = self.roster_msg
        return None if r is None else {e.agent_id for e in r.entries}

    def roster_nodes(self) -> dict[str, str] | None:
        """agent id → node id on the coordinator's latest roster (None: no roster yet)."""
        r = self.roster_msg
        return None if r is None else {e.agent_id: e.node_id for e in r.entries}

    def fresh(self, meaning: str, now_s: float, max_age_s: float) -> float | None:
        m = self.readings.get(meaning)
        if m is None or m.age_s(now_s) > max_age_s:
            return None
        return m.value
