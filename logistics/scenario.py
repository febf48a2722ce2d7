"""Logistics scenarios as data files (`scenarios/logistics/*.toml`), validated with pydantic.

A scenario fixes the city: its delivery windows, how many agents share a zone, the
carriers (share of the agents, vans, parcels per van and day, zones served, marginal cost
per parcel), the shippers (parcels per day, value per parcel, which window their customers
want and how flexible they are, how fast value falls when late), the market (rounds,
signals, hop time) and the Lightning channels. The shipped file cites where each number
comes from. `--agents` and `--seed` on the command line override the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "logistics"
Range = tuple[float, float]
IntRange = tuple[int, int]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ordered(name: str, r: tuple[float, float]) -> None:
    if not 0 <= r[0] <= r[1]:
        raise ValueError(f"{name}: need 0 <= low <= high, got {r}")


class WindowSpec(_Model):
    first_hour: Annotated[int, Field(ge=0, le=23)] = 8
    hours: Annotated[int, Field(ge=1, le=12)] = 2
    count: Annotated[int, Field(ge=1, le=12)] = 6

    @model_validator(mode="after")
    def _within_day(self) -> WindowSpec:
        if self.first_hour + self.hours * self.count > 24:
            raise ValueError("delivery windows must end by midnight")
        return self


class CarrierSpec(_Model):
    share: Annotated[float, Field(gt=0, lt=1)] = 0.05     # of the agents
    vans: IntRange = (2, 8)
    parcels_per_van_day: Range = (80.0, 200.0)
    zones_served: IntRange = (2, 5)
    cost_eur_per_parcel: Range = (1.5, 4.5)
    evening_premium: Annotated[float, Field(ge=0, le=2)] = 0.25
    evening_from_hour: Annotated[int, Field(ge=0, le=24)] = 18
    list_markup: Annotated[float, Field(ge=0, le=5)] = 0.3  # first come, first served

    @model_validator(mode="after")
    def _ranges(self) -> CarrierSpec:
        for name in ("vans", "parcels_per_van_day", "zones_served", "cost_eur_per_parcel"):
            _ordered(name, getattr(self, name))
        if self.vans[0] < 1 or self.zones_served[0] < 1:
            raise ValueError("a carrier needs at least one van and one zone")
        return self


class ShipperSpec(_Model):
    parcels_median: Annotated[float, Field(gt=0)] = 20.0   # per shipper and day, lognormal
    parcels_sigma: Annotated[float, Field(ge=0, le=3)] = 1.0
    parcels_max: Annotated[int, Field(ge=1)] = 400
    value_eur_per_parcel: Range = (4.0, 12.0)
    window_preference: tuple[float, ...] = (0.10, 0.12, 0.10, 0.12, 0.22, 0.34)
    flex_windows: IntRange = (0, 2)        # how many windows before the wanted one also do
    late_loss_per_window: Annotated[float, Field(gt=0, le=1)] = 0.3

    @model_validator(mode="after")
    def _ranges(self) -> ShipperSpec:
        _ordered("value_eur_per_parcel", self.value_eur_per_parcel)
        _ordered("flex_windows", self.flex_windows)
        if any(p < 0 for p in self.window_preference) or abs(
                sum(self.window_preference) - 1.0) > 1e-6:
            raise ValueError("window_preference: non-negative shares that sum to 1")
        return self


class MarketSpec(_Model):
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 3      # counters per negotiation
    signals: Annotated[int, Field(ge=1, le=24)] = 4         # booking rounds, one signal each
    booking_hours: Annotated[float, Field(gt=0, le=48)] = 12.0  # first signal → gate
    hop_ms: Annotated[float, Field(ge=0)] = 1.2             # one MQTT hop (FIELD-NOTES)
    opening_spread: Annotated[float, Field(ge=0, lt=1)] = 0.25
    value_buckets: Annotated[int, Field(ge=1, le=64)] = 8   # the coordinator's shipper types
    max_offers_per_slot: Annotated[int, Field(ge=1)] = 256  # per carrier slot and round


class LightningSpec(_Model):
    channel_sat: Annotated[int, Field(gt=0)] = 20_000_000
    eur_per_btc: Annotated[float, Field(gt=0)] = 90_000.0


class LogisticsScenario(_Model):
    name: str = "city"
    description: str = ""
    sources: dict[str, str] = {}
    agents: Annotated[int, Field(ge=3)] = 1000
    seed: int = 0
    agents_per_zone: Annotated[int, Field(ge=1)] = 50
    windows: WindowSpec = WindowSpec()
    carriers: CarrierSpec = CarrierSpec()
    shippers: ShipperSpec = ShipperSpec()
    market: MarketSpec = MarketSpec()
    lightning: LightningSpec = LightningSpec()

    @model_validator(mode="after")
    def _windows(self) -> LogisticsScenario:
        if len(self.shippers.window_preference) != self.windows.count:
            raise ValueError(f"window_preference needs one share per window "
                             f"({self.windows.count}), got {len(self.shippers.window_preference)}")
        return self


def load_scenario(spec: str | Path) -> LogisticsScenario:
    """A scenario by file path, or by name from `scenarios/logistics/` (`city`, …)."""
    path = Path(spec)
    if not path.is_file():
        path = SCENARIO_DIR / f"{spec}.toml"
    if not path.is_file():
        names = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
        raise FileNotFoundError(f"no logistics scenario {spec!r} (named ones: "
                                f"{', '.join(names)})")
    try:
        return LogisticsScenario.model_validate(tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "scenario"
        raise ValueError(f"{path}: {where}: {first['msg']} ({exc.error_count()} "
                         f"problem(s))") from None
