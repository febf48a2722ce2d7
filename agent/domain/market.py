"""Market intervals and the terms of a trade."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agent.domain.resource import WH, Unit


@dataclass(frozen=True, slots=True)
class IntervalClock:
    """Maps time to market intervals: interval k covers [k*length, (k+1)*length)."""

    length_s: int
    gate_margin: float = 0.2  # share of the trading interval kept free before gate closure

    def index(self, t_s: float) -> int:
        return int(t_s // self.length_s)

    def start_s(self, index: int) -> float:
        return float(index * self.length_s)

    def deadline_s(self, delivery: int) -> float:
        """Negotiations for `delivery` must end before its gate closes (its start)."""
        return self.start_s(delivery) - self.gate_margin * self.length_s


@dataclass(frozen=True, slots=True)
class Terms:
    """What both sides of a trade agree to: a quantity of the resource at a price per unit;
    for energy (the default unit) Wh at msat/kWh (`agent.domain.resource`)."""

    trade_id: str
    interval: int
    seller: str
    buyer: str
    energy_wh: int
    price_msat_per_kwh: int
    unit: Unit = WH

    @property
    def quantity(self) -> int:
        return self.energy_wh

    @property
    def price_msat_per_unit(self) -> int:
        return self.price_msat_per_kwh

    @property
    def amount_msat(self) -> int:
        return self.unit.amount_msat(self.energy_wh, self.price_msat_per_kwh)


def start_offset(agent_id: str, spread: float) -> float:
    """Where in its first `spread` share of a trading interval this home opens its offers,
    in [0, spread): the same for the same id every interval and on every machine (a hash of
    the id, not a random draw), spread evenly over homes, so a community's offers arrive
    over that part of the interval instead of in one burst at its start."""
    if not 0.0 <= spread <= 1.0:
        raise ValueError(f"spread must be in [0, 1], got {spread}")
    digest = hashlib.blake2b(agent_id.encode(), digest_size=8).digest()
    return spread * int.from_bytes(digest, "big") / 2.0**64
