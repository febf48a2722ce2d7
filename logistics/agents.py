"""The city's agents, drawn from a scenario and a seed: carriers and their delivery slots,
shippers and their parcels, and each side's utility for a slot (`agent.domain.resource`).

A slot is one carrier's capacity in one zone and delivery window (parcels). A lot is a
shipper's parcels for one zone that share the earliest window they can be delivered in
(`ready`) and the window their customers want (`due`); each parcel of the lot is worth
its value when delivered in [ready, due] and loses `late_loss` of it per window late.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.domain.resource import PARCEL, Resource
from agent.domain.units import eur_to_msat
from logistics.scenario import LogisticsScenario

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ShipperLot:
    """A shipper's utility for delivering one parcel of a lot in a window (msat/parcel)."""

    value_msat: int
    ready: int
    due: int
    late_loss: float

    def unit_value_msat(self, window: int) -> int | None:
        if window < self.ready:
            return None
        late = max(0, window - self.due)
        value = round(self.value_msat * max(0.0, 1.0 - self.late_loss * late))
        return value if value > 0 else None


@dataclass(frozen=True, slots=True)
class CarrierSlot:
    """A carrier's utility for a slot: its marginal cost per parcel, in its window only."""

    cost_msat: int
    window: int

    def unit_value_msat(self, window: int) -> int | None:
        return self.cost_msat if window == self.window else None


@dataclass(frozen=True)
class Slots:
    """One row per carrier × zone served × window."""

    carrier: Ints
    zone: Ints
    window: Ints
    capacity: Ints     # parcels
    cost_msat: Ints    # per parcel
    list_msat: Ints    # the posted price of first come, first served

    @property
    def size(self) -> int:
        return int(self.carrier.size)


@dataclass(frozen=True)
class Lots:
    shipper: Ints
    zone: Ints
    ready: Ints
    due: Ints
    parcels: Ints
    value_msat: Ints   # per parcel, delivered on time
    late_loss: float

    @property
    def size(self) -> int:
        return int(self.shipper.size)

    def utility(self, i: int) -> ShipperLot:
        return ShipperLot(int(self.value_msat[i]), int(self.ready[i]), int(self.due[i]),
                          self.late_loss)


@dataclass(frozen=True)
class City:
    scenario: LogisticsScenario
    carriers: list[str]
    shippers: list[str]
    zones: int
    windows: int
    slots: Slots
    lots: Lots
    value: Ints        # (lots, windows) per parcel, −1 where the lot cannot be delivered

    @property
    def eur_per_msat(self) -> float:
        return self.scenario.lightning.eur_per_btc / 100_000_000_000

    def slot_id(self, zone: int, window: int) -> int:
        """The slot's market window (`Move.interval`): zone-major."""
        return zone * self.windows + window

    def resource(self, zone: int, window: int) -> Resource:
        w = self.scenario.windows
        start = (w.first_hour + window * w.hours) * 3600.0
        return Resource("delivery_slot", PARCEL, self.slot_id(zone, window), start,
                        start + w.hours * 3600.0, f"zone-{zone}")

    def window_label(self, window: int) -> str:
        w = self.scenario.windows
        lo = w.first_hour + window * w.hours
        return f"{lo:02d}–{lo + w.hours:02d}"


def _carrier_zones(rng: np.random.Generator, carriers: int, zones: int,
                   served: tuple[int, int]) -> list[list[int]]:
    """Every zone gets two carriers (one if there is one), then each carrier adds zones
    at random up to the number it serves."""
    out: list[set[int]] = [set() for _ in range(carriers)]
    for z in range(zones):
        out[z % carriers].add(z)
        out[(z + 1) % carriers].add(z)
    for c in range(carriers):
        want = min(zones, int(rng.integers(served[0], served[1] + 1)))
        rest = [z for z in rng.permutation(zones).tolist() if z not in out[c]]
        out[c].update(rest[:max(0, want - len(out[c]))])
    return [sorted(s) for s in out]


def _slots(sc: LogisticsScenario, rng: np.random.Generator, carriers: int,
           zones: int) -> Slots:
    spec, w = sc.carriers, sc.windows
    eur = sc.lightning.eur_per_btc
    served = _carrier_zones(rng, carriers, zones, spec.zones_served)
    evening = np.array([w.first_hour + k * w.hours >= spec.evening_from_hour
                        for k in range(w.count)])
    rows: list[tuple[int, int, int, int, int]] = []
    for c in range(carriers):
        vans = int(rng.integers(spec.vans[0], spec.vans[1] + 1))
        per_van = float(rng.uniform(*spec.parcels_per_van_day))
        cap = max(1, round(vans * per_van / (len(served[c]) * w.count)))
        for z in served[c]:
            base = float(rng.uniform(*spec.cost_eur_per_parcel))
            for k in range(w.count):
                eur_cost = base * (1.0 + spec.evening_premium * bool(evening[k]))
                rows.append((c, z, k, cap, eur_to_msat(eur_cost, eur)))
    a = np.array(rows, dtype=np.int64)
    cost = a[:, 4]
    return Slots(a[:, 0], a[:, 1], a[:, 2], a[:, 3], cost,
                 np.round(cost * (1.0 + spec.list_markup)).astype(np.int64))


def _lots(sc: LogisticsScenario, rng: np.random.Generator, shippers: int,
          zones: int) -> Lots:
    spec, windows = sc.shippers, sc.windows.count
    eur = sc.lightning.eur_per_btc
    n = np.clip(np.round(rng.lognormal(np.log(spec.parcels_median), spec.parcels_sigma,
                                       shippers)), 1, spec.parcels_max).astype(np.int64)
    base = rng.uniform(*spec.value_eur_per_parcel, shippers)
    owner = np.repeat(np.arange(shippers), n)
    zone = rng.integers(0, zones, owner.size)
    due = rng.choice(windows, owner.size, p=np.asarray(spec.window_preference))
    flex = rng.integers(spec.flex_windows[0], spec.flex_windows[1] + 1, owner.size)
    ready = np.maximum(0, due - flex)
    key = ((owner * zones + zone) * windows + ready) * windows + due
    uniq, count = np.unique(key, return_counts=True)
    due_u = uniq % windows
    ready_u = (uniq // windows) % windows
    zone_u = (uniq // windows**2) % zones
    owner_u = uniq // (windows**2 * zones)
    jitter = rng.uniform(0.9, 1.1, uniq.size)
    value = np.array([eur_to_msat(float(v), eur) for v in base[owner_u] * jitter],
                     dtype=np.int64)
    return Lots(owner_u.astype(np.int64), zone_u.astype(np.int64), ready_u.astype(np.int64),
                due_u.astype(np.int64), count.astype(np.int64), value,
                spec.late_loss_per_window)


def build_city(sc: LogisticsScenario, agents: int, seed: int) -> City:
    if agents < 3:
        raise ValueError("a logistics market needs at least 3 agents")
    rng = np.random.default_rng(seed)
    carriers = min(agents - 1, max(2, round(agents * sc.carriers.share)))
    shippers = agents - carriers
    zones = max(1, round(agents / sc.agents_per_zone))
    slots = _slots(sc, rng, carriers, zones)
    lots = _lots(sc, rng, shippers, zones)
    value = np.full((lots.size, sc.windows.count), -1, dtype=np.int64)
    for i in range(lots.size):
        u = lots.utility(i)
        for k in range(sc.windows.count):
            v = u.unit_value_msat(k)
            if v is not None:
                value[i, k] = v
    return City(sc, [f"carrier-{c:03d}" for c in range(carriers)],
                [f"shipper-{s:04d}" for s in range(shippers)], zones, sc.windows.count, slots,
                lots, value)
