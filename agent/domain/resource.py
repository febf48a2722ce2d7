"""What a market trades, in any domain: a resource counted in a unit, delivered in a time
window (at a place), and what it is worth to each side. Pure.

The negotiation state machines (`agent.domain.negotiation`) trade a *quantity* of a
resource at a *price per unit*; nothing in them is about energy but the names of two
fields, which the wire (`agent.wire.MoveMsg`) and the journal carry and so keep:

| | energy | logistics (`logistics/`) |
| --- | --- | --- |
| resource | energy delivered into the community | a parcel delivered in a delivery slot |
| quantity (`energy_wh`) | Wh | parcels |
| price (`price_msat_per_kwh`) | msat per kWh (`WH`) | msat per parcel (`PARCEL`) |
| window (`interval`) | the 15-minute interval | the slot: zone × delivery window |
| buyer's utility | the retail tariff (`GridImport`) | the parcel's value, falling with lateness |
| seller's utility | the feed-in tariff (`GridExport`) | the carrier's marginal cost |

A side's utility is linear in the quantity (up to what it holds): a value per unit that
depends on the window, or None where it cannot take or deliver in that window. That value
is its reservation price: a buyer pays at most what the resource is worth to it, a seller
takes no less than what it gives up, so no agreement leaves either side worse off than
not trading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agent.domain.units import Tariff


@dataclass(frozen=True, slots=True)
class Unit:
    """What one integer of quantity counts, and how many of them a price is quoted for."""

    name: str          # "Wh", "parcel"
    price_per: int     # quantities per priced unit: 1000 (a price per kWh), 1 (per parcel)
    priced_as: str     # the priced unit's name: "kWh", "parcel"

    def amount_msat(self, quantity: int, price_msat: int) -> int:
        """`quantity` at `price_msat` per priced unit, rounded half up to a whole msat."""
        if quantity < 0 or price_msat < 0:
            raise ValueError("quantity and price must be non-negative")
        return (quantity * price_msat + self.price_per // 2) // self.price_per


WH = Unit("Wh", 1000, "kWh")
PARCEL = Unit("parcel", 1, "parcel")


@dataclass(frozen=True, slots=True)
class Resource:
    """One tradable thing: `kind` counted in `unit`, delivered in the market's window
    `window` (`Move.interval`), which spans [start_s, end_s), at `place` ("" where it has
    none: a community's energy)."""

    kind: str
    unit: Unit
    window: int
    start_s: float
    end_s: float
    place: str = ""


class Utility(Protocol):
    """One side's utility for a resource: what each unit delivered in `window` is worth
    to it (a buyer's value, a seller's cost) in msat per priced unit, or None when it
    cannot take (or deliver) anything in that window."""

    def unit_value_msat(self, window: int) -> int | None: ...


def value_msat(utility: Utility, unit: Unit, window: int, quantity: int) -> int | None:
    """What `quantity` in `window` is worth to the side: its utility as a function of time
    and quantity."""
    per_unit = utility.unit_value_msat(window)
    return None if per_unit is None else unit.amount_msat(quantity, per_unit)


@dataclass(frozen=True, slots=True)
class GridImport:
    """An energy buyer's utility: what the grid would charge it instead (retail)."""

    tariff: Tariff
    interval_s: int

    def unit_value_msat(self, window: int) -> int:
        return self.tariff.retail_at(float(window * self.interval_s))


@dataclass(frozen=True, slots=True)
class GridExport:
    """An energy seller's utility: what the grid would pay it instead (feed-in)."""

    tariff: Tariff

    def unit_value_msat(self, window: int) -> int:
        return self.tariff.feed_in_msat_per_kwh
